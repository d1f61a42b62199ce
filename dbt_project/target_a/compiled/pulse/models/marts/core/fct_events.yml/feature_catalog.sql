
-- Fixture for feature_catalog
select 
    
    cast('dashboards' as text)
 as "feature_name", cast(null as text) as "category", 
    
    cast(True as boolean)
 as "is_core", cast(null as text) as "description"