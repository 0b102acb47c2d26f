-- The seed's catalog ("Ecouteurs sans fil" 89.99, "Montre connectée" 199.99, 39.99 items) and a few more.
INSERT IGNORE INTO products (name, price) VALUES
    ('Ecouteurs sans fil', 89.99),
    ('Montre connectée', 199.99),
    ('Coque de téléphone', 39.99),
    ('Chargeur rapide USB-C', 39.99),
    ('Enceinte Bluetooth', 59.99),
    ('Clavier mécanique', 129.99),
    ('Souris ergonomique', 49.99),
    ('Tablette 10 pouces', 299.99);
