#!/bin/bash
# Patroni (Debian patroni 3.0.2, PostgreSQL 15) with its Consul DCS against a `praetor agent -dev`:
# two Patroni members elect a leader that holds its session and /service/<scope>/leader key, a
# replica follows, and killing the leader's Patroni (SIGKILL, so it cannot release the key) makes
# the replica take over once the session's TTL runs out.
#   test/compat/patroni/run.sh          (as root; npm run build first; apt-get install patroni postgresql)
# Binds 127.0.5.30 (agent HTTP 18530) and 127.0.5.31/.32 (Patroni REST 8008, PostgreSQL 5432).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d /tmp/praetor-patroni.XXXXXX)
chown postgres: "$work"
agent=http://127.0.5.30:18530
pids=()
fail=0
stop_all() { # by pid only: our agent and patronis, then the postmasters they started
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for f in "$work"/pg*/data/postmaster.pid; do [ -f "$f" ] && kill -9 "$(head -1 "$f")" 2>/dev/null; done
  sleep 1
}
cleanup() { stop_all; rm -rf "$work"; }
trap cleanup EXIT
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

node "$root/bin/praetor.mjs" agent -dev -node patroni-dcs -bind 127.0.5.30 -client 127.0.5.30 -http-port 18530 -dns-port -1 > "$work/agent.log" 2>&1 &
pids+=($!)
for i in $(seq 100); do [ "$(curl -s $agent/v1/status/leader)" != '""' ] && [ -n "$(curl -s $agent/v1/status/leader)" ] && break; sleep 0.2; done

member() { # name ip
  cat > "$work/$1.yml" <<YML
scope: praetor
name: $1
restapi: {listen: "$2:8008", connect_address: "$2:8008"}
consul: {host: "127.0.5.30:18530", register_service: true}
bootstrap:
  dcs: {ttl: 20, loop_wait: 2, retry_timeout: 10, maximum_lag_on_failover: 1048576}
  initdb: [{encoding: UTF8}]
postgresql:
  listen: "$2:5432"
  connect_address: "$2:5432"
  data_dir: $work/$1/data
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: $work/$1.pgpass
  authentication:
    replication: {username: replicator, password: rep-pass}
    superuser: {username: postgres, password: su-pass}
  parameters: {unix_socket_directories: "$work/$1", max_connections: 20, shared_buffers: 16MB}
  pg_hba: ["host replication replicator 127.0.0.0/8 md5", "host all all 127.0.0.0/8 md5", "local all all trust"]
YML
  mkdir -p "$work/$1" && chown -R postgres: "$work"
  HOME=$work setpriv --reuid=postgres --regid=postgres --init-groups patroni "$work/$1.yml" > "$work/$1.log" 2>&1 &
  pids+=($!)
  eval "pid_$1=$!"
}
leader_of() { curl -s "$agent/v1/kv/service/praetor/leader?raw"; }
role_of() { curl -s "http://$1:8008/patroni" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("role",""))' 2>/dev/null; }

member pg1 127.0.5.31
for i in $(seq 120); do [ "$(leader_of)" = pg1 ] && break; sleep 1; done
[ "$(leader_of)" = pg1 ] && ok "pg1 bootstrapped the cluster and holds the leader key" || bad "pg1 holds no leader key: $(leader_of)"
session=$(curl -s "$agent/v1/kv/service/praetor/leader" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0].get("Session",""))' 2>/dev/null)
[ -n "$session" ] && ok "the leader key is locked by session $session" || bad "the leader key has no session"
curl -s "$agent/v1/session/info/$session" | grep -q '"TTL"' && ok "the session exists: $(curl -s $agent/v1/session/info/$session | head -c 300)" || bad "no such session"

member pg2 127.0.5.32
replica_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.5.32:8008/replica)" = 200 ]; }
for i in $(seq 150); do replica_ok && break; sleep 1; done
replica_ok && ok "pg2 runs as a streaming replica of pg1 (GET /replica is 200)" || bad "pg2 is no running replica: $(curl -s http://127.0.5.32:8008/patroni | head -c 300)"
curl -s "$agent/v1/health/service/praetor" | python3 -c 'import json,sys; print(sorted((e["Service"]["ID"], ",".join(e["Service"]["Tags"])) for e in json.load(sys.stdin)))' | sed 's/^/     services: /'
sleep 10
[ "$(leader_of)" = pg1 ] && ok "pg1 still holds the key 10 s later (session renewed, TTL 20 s)" || bad "leader key after 10 s: $(leader_of)"

pg1pid=$pid_pg1
t0=$(date +%s)
kill -9 "$pg1pid"
ok "killed pg1's patroni (pid $pg1pid) with SIGKILL at $(date +%T)"
for i in $(seq 90); do [ "$(leader_of)" = pg2 ] && [ "$(role_of 127.0.5.32)" = master ] && break; sleep 1; done
t1=$(date +%s)
[ "$(leader_of)" = pg2 ] && ok "pg2 took the leader key $((t1 - t0)) s after the kill" || bad "leader key after the kill: '$(leader_of)'"
r=$(role_of 127.0.5.32); [ "$r" = master ] || [ "$r" = primary ] && ok "pg2 promoted itself (role $r)" || bad "pg2's role: $r"
[ $fail = 0 ] && echo "patroni against praetor: all checks hold" || { echo "patroni against praetor: failures (logs in $work, kept)"; trap - EXIT; stop_all; }
exit $fail
