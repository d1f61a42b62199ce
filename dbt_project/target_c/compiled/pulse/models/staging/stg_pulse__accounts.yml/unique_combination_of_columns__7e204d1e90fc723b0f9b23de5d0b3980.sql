
select tenant_id, export_date, count(*) as copies
from "pulse_test_c"."staging"."stg_pulse__accounts"
group by tenant_id, export_date
having count(*) > 1
