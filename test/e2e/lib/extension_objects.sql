-- Everything that makes up the installed extension, one line per fact, for
-- comparing an upgraded database with a fresh install.
\pset format unaligned
\pset tuples_only on
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'contractor_verify'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
rels AS (
    SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'contractor_verify'::regnamespace
    UNION SELECT t.typrelid FROM pg_type t, members m
     WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid AND t.typrelid <> 0
)
SELECT line FROM (
    SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM members
    UNION ALL
    SELECT format('column %s.%s %s %s notnull=%s default=%s identity=%s', c.relname, a.attnum,
                  a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid), a.attidentity)
    FROM rels r JOIN pg_class c ON c.oid = r.oid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    UNION ALL
    SELECT format('relation %s kind=%s acl=%s comment=%s', c.relname, c.relkind, c.relacl,
                  obj_description(c.oid, 'pg_class'))
    FROM rels r JOIN pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN rels r ON r.oid = i.indrelid
    UNION ALL
    SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rels)
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t
    WHERE t.tgrelid IN (SELECT oid FROM rels) AND NOT t.tgisinternal
    UNION ALL
    SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid))
    FROM rels r JOIN pg_class c ON c.oid = r.oid WHERE c.relkind = 'v'
    UNION ALL
    SELECT format('function %s acl=%s comment=%s %s', p.oid::regprocedure, p.proacl,
                  obj_description(p.oid, 'pg_proc'), pg_get_functiondef(p.oid))
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT format('schema %s acl=%s comment=%s', nspname, nspacl, obj_description(oid, 'pg_namespace'))
    FROM pg_namespace WHERE nspname = 'contractor_verify'
    UNION ALL
    SELECT format('config %s', unnest(extconfig)::regclass) FROM pg_extension WHERE extname = 'contractor_verify'
) AS facts(line)
ORDER BY line;
