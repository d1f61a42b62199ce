
-- Fixture for event_catalog
select 
    
    cast('user.logged_in' as text)
 as "event_name", 
    
    cast('engagement' as text)
 as "category", 
    
    cast(True as boolean)
 as "counts_as_active", cast(null as text) as "description"
union all
select 
    
    cast('feature.used' as text)
 as "event_name", 
    
    cast('engagement' as text)
 as "category", 
    
    cast(True as boolean)
 as "counts_as_active", cast(null as text) as "description"