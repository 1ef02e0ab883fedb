# python-consul (Debian python3-consul 0.7.1), unmodified, against the HTTP API on the port given:
# catalog, health, agent, session list/renew, events, status and coordinates. Prints one line per
# miss and a summary; exits 1 if any check fails.
import sys, threading, time
import consul
import consul.base

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

# agent
me = safe(lambda: c.agent.self()) or {}
t("agent self Datacenter", me.get("Config", {}).get("Datacenter") == "dc1")
node = me.get("Config", {}).get("NodeName")
t("agent members alive", (safe(lambda: c.agent.members()) or [{}])[0].get("Status") == 1)
t("service register", safe(lambda: c.agent.service.register("web", service_id="web1", port=80, tags=["v1"], check=consul.Check.ttl("10s"))) is True)
t("agent services", "web1" in (safe(lambda: c.agent.services()) or {}))
t("ttl pass", safe(lambda: c.agent.check.ttl_pass("service:web1", "fine")) is True)
t("agent checks passing", (safe(lambda: c.agent.checks()) or {}).get("service:web1", {}).get("Status") == "passing")
t("node maintenance on", safe(lambda: c.agent.maintenance(True, "patching")) is True)
t("node maintenance off", safe(lambda: c.agent.maintenance(False)) is True)
t("service deregister", safe(lambda: c.agent.service.deregister("web1")) is True)
# catalog
t("catalog register", safe(lambda: c.catalog.register("n2", "10.0.0.2", service={"Service": "db", "ID": "db1", "Port": 5432, "Tags": ["primary"]}, check={"CheckID": "db-alive", "Name": "db alive", "Status": "passing", "ServiceID": "db1"})) is True)
_, nodes = safe(lambda: c.catalog.nodes()) or (0, [])
t("catalog nodes", sorted(x["Node"] for x in nodes) == sorted([node, "n2"]))
_, services = safe(lambda: c.catalog.services()) or (0, {})
t("catalog services", services.get("db") == ["primary"])
idx, dbs = safe(lambda: c.catalog.service("db")) or (0, [])
t("catalog service", len(dbs) == 1 and dbs[0]["ServicePort"] == 5432 and int(idx) > 0)
_, healthy = safe(lambda: c.health.service("db", passing=True)) or (0, [])
t("health service passing", len(healthy) == 1 and healthy[0]["Service"]["ID"] == "db1" and len(healthy[0]["Checks"]) == 1)
_, tagged = safe(lambda: c.health.service("db", tag="replica")) or (0, None)
t("health service tag filter", tagged == [])
_, anyc = safe(lambda: c.health.state("any")) or (0, [])
t("health state any", any(ch["CheckID"] == "db-alive" for ch in anyc))
_, nodeh = safe(lambda: c.health.node("n2")) or (0, [])
t("health node", [ch["CheckID"] for ch in nodeh] == ["db-alive"])
_, checks = safe(lambda: c.health.checks("db")) or (0, [])
t("health checks", [ch["CheckID"] for ch in checks] == ["db-alive"])
# blocking on a service wakes on its change only
idx0, _ = c.health.service("db")
got = {}
def waiter(): got["r"] = c.health.service("db", index=idx0, wait="10s")
th = threading.Thread(target=waiter); th.start(); time.sleep(0.3)
c.kv.put("unrelated", "x"); time.sleep(0.3)
t("kv write does not wake a health watcher", "r" not in got)
c.catalog.register("n3", "10.0.0.3", service={"Service": "db", "ID": "db2", "Port": 5433})
th.join(12)
t("service write wakes it", "r" in got and len(got["r"][1]) == 2)
t("catalog deregister", safe(lambda: c.catalog.deregister("n3")) is True)
# sessions
sid = safe(lambda: c.session.create(name="py", ttl=15, lock_delay=0, behavior="delete"))
t("session create", bool(sid))
_, lst = safe(lambda: c.session.list()) or (0, [])
t("session list", any(s["ID"] == sid for s in lst))
_, mine = safe(lambda: c.session.node(node)) or (0, [])
t("session node", any(s["ID"] == sid for s in mine))
renewed = safe(lambda: c.session.renew(sid))
t("session renew", isinstance(renewed, dict) and renewed.get("ID") == sid)
t("session destroy", safe(lambda: c.session.destroy(sid)) is True)
try:
    c.session.renew(sid); t("renew of a destroyed session raises NotFound", False)
except consul.base.NotFound as e:
    t("renew of a destroyed session raises NotFound", "not found" in str(e))
# events, status, coordinates
ev = safe(lambda: c.event.fire("deploy", "v2")) or {}
t("event fire", ev.get("Name") == "deploy")
_, events = safe(lambda: c.event.list(name="deploy")) or (0, [])
t("event list", len(events) == 1 and events[0]["ID"] == ev.get("ID"))
leader = safe(lambda: c.status.leader()) or ""
t("status leader is ip:port", ":" in leader)
t("status peers holds the leader", leader in (safe(lambda: c.status.peers()) or []))
_, coords = safe(lambda: c.coordinate.nodes()) or (0, None)
t("coordinate nodes is a list of this datacenter's nodes", isinstance(coords, list) and all(x.get("Node") in (node, "n2", "n3") for x in coords))
t("coordinate datacenters", (safe(lambda: c.coordinate.datacenters()) or [{}])[0].get("Datacenter") == "dc1")
# errors surface as python-consul's exceptions
try:
    c.kv.put("bars/bad", "x", acquire="00000000-0000-0000-0000-000000000000"); t("acquire unknown session raises", False)
except consul.base.ConsulException as e:
    t("acquire unknown session raises 500 invalid session", "invalid session" in str(e))
print(f"catalog/health/agent/session/event/status via python-consul: {ok}/{n} checks hold")
sys.exit(0 if ok == n else 1)
