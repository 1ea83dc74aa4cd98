-- One unit of the online demo application's work, in one transaction: an order with two items, the hot
-- counter row updated, an earlier order of its own paid (its trigger touches updated_at), and now and then
-- an older one deleted (its items go with it: ON DELETE CASCADE). Returns the new order's id.
WITH placed AS (
    INSERT INTO shop.orders (customer_id, status, total, placed_at)
    VALUES (@customer, 'pending', 19.98, now())
    RETURNING id
), items AS (
    INSERT INTO shop.order_items (order_id, line, product_id, quantity, unit_price)
    SELECT placed.id, l, @product + l, 1, 9.99 FROM placed, generate_series(1, 2) l
), counted AS (
    UPDATE shop.counters SET value = value + 1, updated_at = now() WHERE name = 'orders placed'
), paid AS (
    UPDATE shop.orders SET status = 'paid' WHERE id = @pay
), deleted AS (
    DELETE FROM shop.orders WHERE id = @delete RETURNING id
), deletions AS (
    UPDATE shop.counters SET value = value + (SELECT count(*) FROM deleted), updated_at = now()
    WHERE name = 'orders deleted' AND EXISTS (SELECT FROM deleted)
)
SELECT id FROM placed
