-- The shop's rules the database holds on its own, whatever the application does.
-- At most one successful payment per order: success_order_id is the order's id for a successful
-- payment and NULL for a failed one (NULLs never collide in a unique index). A second success
-- for an order is refused with a duplicate-key error, which the API answers with 409.
ALTER TABLE payments
    ADD COLUMN IF NOT EXISTS success_order_id BIGINT UNSIGNED AS (IF(status = 'success', order_id, NULL)) PERSISTENT,
    ADD UNIQUE KEY IF NOT EXISTS uq_payments_one_success (success_order_id);
