-- SmartShop schema, version 1.
CREATE TABLE IF NOT EXISTS products (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    price DECIMAL(10, 2) NOT NULL,
    UNIQUE KEY uq_products_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS users (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(64) NOT NULL,
    email VARCHAR(254) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
    last_login_at DATETIME(3) NULL,
    logged_in TINYINT(1) NOT NULL DEFAULT 0,
    UNIQUE KEY uq_users_username (username),
    KEY ix_users_created_at (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS orders (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    product_id INT UNSIGNED NOT NULL,
    quantity SMALLINT UNSIGNED NOT NULL DEFAULT 1,
    amount DECIMAL(12, 2) NOT NULL,
    status ENUM('pending', 'validated', 'processing', 'paid', 'payment_failed', 'cancelled') NOT NULL DEFAULT 'pending',
    created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
    KEY ix_orders_user (user_id),
    KEY ix_orders_status (status),
    KEY ix_orders_created_at (created_at),
    CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_orders_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS payments (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id BIGINT UNSIGNED NOT NULL,
    status ENUM('success', 'failed') NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    requested_status ENUM('success', 'failed') NULL,
    created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
    KEY ix_payments_order (order_id),
    KEY ix_payments_created_at (created_at),
    CONSTRAINT fk_payments_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS activity_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
    level ENUM('low', 'medium', 'high') NOT NULL,
    message VARCHAR(255) NOT NULL,
    KEY ix_activity_created_at (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Counters kept up to date in the same transaction as the change they count, so that
-- /api/stats reads a few hundred rows whatever the size of the shop. bucket is
-- 1970-01-01 for running totals, the minute for per-minute figures, the day (00:00) for
-- daily ones. Writers pick one of several shards at random so that concurrent
-- transactions rarely wait on the same row; readers sum the shards.
CREATE TABLE IF NOT EXISTS counters (
    name VARCHAR(40) NOT NULL,
    bucket DATETIME NOT NULL,
    shard TINYINT UNSIGNED NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (name, bucket, shard),
    KEY ix_counters_bucket (bucket)
) ENGINE = InnoDB DEFAULT CHARSET = ascii;

CREATE TABLE IF NOT EXISTS daily_active_users (
    day DATE NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (day, user_id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS idempotency_keys (
    idem_key VARCHAR(128) NOT NULL PRIMARY KEY,
    endpoint VARCHAR(128) NOT NULL,
    request_hash CHAR(64) NOT NULL,
    status_code SMALLINT UNSIGNED NOT NULL,
    response MEDIUMTEXT NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
    KEY ix_idempotency_created_at (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
