# python-consul (Debian python3-consul 0.7.1), unmodified: its c.query calls against the HTTP API on
# the port given, as python-consul's own test_query runs them, plus execute, update and a template
# with a regexp. python-consul sends lowercase keys and always a name_prefix_match Template.
# Prints one line per miss and a summary; exits 1 if any check fails.
import sys
import consul

c = consul.Consul(host="127.0.0.1", port=int(sys.argv[1]))
ok, n = 0, 0
def t(name, cond):
    global ok, n
    n += 1
    if cond: ok += 1
    else: print("miss:", name)

def safe(f):
    try: return f()
    except Exception as e:
        print("error:", type(e).__name__, str(e)[:200]); return None

t("list empty", safe(lambda: c.query.list()) == [])
query = safe(lambda: c.query.create("foo", "fooquery")) or {}
t("create answers an ID", query.get("ID") not in (None, ""))
got = safe(lambda: c.query.get(query["ID"])) or []
t("get by ID", len(got) == 1 and got[0].get("Name") == "fooquery" and got[0].get("ID") == query.get("ID"))
t("explain by name", (safe(lambda: c.query.explain("fooquery")) or {}).get("Query", {}).get("Service", {}).get("Service") == "foo")

t("register web", safe(lambda: c.catalog.register("pq-node", "10.2.0.1", service={"Service": "web", "ID": "web1", "Port": 80, "Tags": ["v1"]})) is True)
web = safe(lambda: c.query.create("web", "web-", tags=["v1"], ttl="10s", onlypassing=True, regexp="^web-(.*)$")) or {}
run = safe(lambda: c.query.execute("web-anything")) or {}
t("execute by template prefix", [e["Service"]["ID"] for e in run.get("Nodes", [])] == ["web1"] and run.get("DNS", {}).get("TTL") == "10s")
t("execute with limit", len((safe(lambda: c.query.execute("web-x", limit=1)) or {}).get("Nodes", [None, None])) == 1)
t("update", safe(lambda: c.query.update(web["ID"], "web", "web-", tags=["v2"])) is True)
t("execute after update", (safe(lambda: c.query.execute(web["ID"])) or {}).get("Nodes", [None]) == [])
t("delete", safe(lambda: c.query.delete(query["ID"])) is True)
# python-consul's CB.json() answers a 404 with (X-Consul-Index, None), as it does against Consul:
# the header must be there, or it raises KeyError.
def missing(f):
    got = safe(f)
    return isinstance(got, tuple) and got[1] is None and int(got[0]) >= 1
t("get of a deleted query is a 404 with the index header", missing(lambda: c.query.get(query["ID"])))
t("execute of a missing query is a 404 with the index header", missing(lambda: c.query.execute("nothing-here")))

print(f"{ok}/{n} checks hold")
sys.exit(0 if ok == n else 1)
