-- Revenue per customer. The warehouse renamed orders.customer_id to customer_ref; this model was not updated.
select customer_id, sum(amount) as revenue
from public.orders
group by customer_id
