#!/usr/bin/env bash
# Set up what the tests use on this machine: PostgreSQL, Redis, RabbitMQ (with its management
# plugin, which the rabbitmq provider talks to), Debian's chromium for the browser tests and
# Debian's prometheus package for `promtool` (the alert rules' tests under deploy/), and Debian's
# bubblewrap (`bwrap`), which confines the demos the local runtime starts with their command.
#
# Why a script of its own: `make test` must pass on a fresh machine with nothing run before it,
# and CI (`.ci/run`) needs exactly the same set-up, so both call this one file.
#
# Each service is checked first and only started when it does not answer, so a second run does
# nothing and takes well under a second. Starting needs root and the server's binary; where that
# is not possible the service is reported in one line and the script goes on (the tests that
# need it are then skipped, with a summary at the end of the run). With CI=true a service that
# cannot be made to answer is an error instead: CI never skips silently.
set -uo pipefail

case "${CI:-}" in true | TRUE | True | 1 | yes) STRICT=1 ;; *) STRICT=0 ;; esac
MISSING=()
ROOT=0
((EUID == 0)) && ROOT=1

say() { printf 'services: %s\n' "$*"; }

answers() { # host port: is something listening?
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_port() { # host port seconds
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    answers "$1" "$2" && return 0
    sleep 0.5
  done
  answers "$1" "$2"
}

missing() { # name, why: report in one line and go on (remembered for CI=true)
  if ((STRICT)); then
    say "$1 is not available ($2) — CI=true: this fails the run"
  else
    say "$1 is not available ($2) — tests that need it will be skipped"
  fi
  MISSING+=("$1")
}

# cannot_start name binary: why a service cannot be started here, or nothing when it can.
cannot_start() {
  if ((ROOT == 0)); then
    echo "not running, and starting it needs root"
  elif ! command -v "$2" >/dev/null 2>&1; then
    echo "not running, and $2 is not installed"
  fi
}

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || answers 127.0.0.1 5432; then
    say "PostgreSQL answers on 127.0.0.1:5432"
    return
  fi
  local why
  why=$(cannot_start PostgreSQL pg_ctlcluster)
  [ -n "$why" ] && { missing PostgreSQL "$why"; return; }
  say "starting PostgreSQL"
  # shellcheck disable=SC2046  # one cluster version folder, as Debian installs it
  if ! pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; then
    missing PostgreSQL "pg_ctlcluster could not start it"
    return
  fi
  if wait_port 127.0.0.1 5432 30; then
    say "PostgreSQL answers on 127.0.0.1:5432"
  else
    missing PostgreSQL "started but does not answer on 127.0.0.1:5432"
  fi
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || answers 127.0.0.1 6379; then
    say "Redis answers on 127.0.0.1:6379"
    return
  fi
  local why
  why=$(cannot_start Redis redis-server)
  [ -n "$why" ] && { missing Redis "$why"; return; }
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  if ! redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log; then
    missing Redis "redis-server could not start it (see /var/log/redis/ci.log)"
    return
  fi
  if wait_port 127.0.0.1 6379 30; then
    say "Redis answers on 127.0.0.1:6379"
  else
    missing Redis "started but does not answer on 127.0.0.1:6379"
  fi
}

ensure_rabbitmq() {
  if ! answers 127.0.0.1 5672; then
    local why
    why=$(cannot_start RabbitMQ rabbitmq-server)
    [ -n "$why" ] && { missing RabbitMQ "$why"; return; }
    say "starting RabbitMQ"
    if ! rabbitmq-server -detached; then
      missing RabbitMQ "rabbitmq-server -detached failed"
      return
    fi
    if ! wait_port 127.0.0.1 5672 90; then
      missing RabbitMQ "started but does not answer on 127.0.0.1:5672"
      return
    fi
  fi
  say "RabbitMQ answers on 127.0.0.1:5672"
  # The rabbitmq provider manages vhosts and users through the management HTTP API.
  if ! answers 127.0.0.1 15672; then
    if ((ROOT == 0)) || ! command -v rabbitmq-plugins >/dev/null 2>&1; then
      missing "RabbitMQ management" \
        "port 15672 closed; as root: rabbitmq-plugins enable rabbitmq_management"
      return
    fi
    say "enabling RabbitMQ's management plugin (takes a while)"
    if ! rabbitmq-plugins enable rabbitmq_management >/dev/null; then
      missing "RabbitMQ management" "rabbitmq-plugins enable rabbitmq_management failed"
      return
    fi
    if ! wait_port 127.0.0.1 15672 60; then
      missing "RabbitMQ management" "enabled but does not answer on 127.0.0.1:15672"
      return
    fi
  fi
  say "RabbitMQ management answers on 127.0.0.1:15672"
}

ensure_chromium() { # Debian's package, never a browser download
  if [ ! -x /usr/bin/chromium ]; then
    if ((ROOT == 0)) || ! command -v apt-get >/dev/null 2>&1; then
      missing chromium "/usr/bin/chromium missing; install Debian's: apt-get install chromium"
      return
    fi
    say "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
    [ -x /usr/bin/chromium ] || { missing chromium "apt-get install chromium failed"; return; }
  fi
  say "chromium at /usr/bin/chromium"
}

ensure_promtool() { # Debian's prometheus package carries promtool (check and test the alert rules)
  if ! command -v promtool >/dev/null 2>&1; then
    if ((ROOT == 0)) || ! command -v apt-get >/dev/null 2>&1; then
      missing promtool "promtool missing; install Debian's: apt-get install prometheus"
      return
    fi
    say "installing Debian's prometheus (for promtool)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq prometheus >/dev/null
    command -v promtool >/dev/null 2>&1 || {
      missing promtool "apt-get install prometheus failed"
      return
    }
  fi
  say "promtool at $(command -v promtool)"
}

ensure_bwrap() { # Debian's bubblewrap: the local runtime's sandbox for services started by command
  if ! command -v bwrap >/dev/null 2>&1; then
    if ((ROOT == 0)) || ! command -v apt-get >/dev/null 2>&1; then
      missing bwrap "bwrap missing; install Debian's: apt-get install bubblewrap"
      return
    fi
    say "installing Debian's bubblewrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null
    command -v bwrap >/dev/null 2>&1 || {
      missing bwrap "apt-get install bubblewrap failed"
      return
    }
  fi
  say "bwrap at $(command -v bwrap)"
}

ensure_postgres
ensure_redis
ensure_rabbitmq
ensure_chromium
ensure_promtool
ensure_bwrap

if ((${#MISSING[@]})) && ((STRICT)); then
  say "CI=true and not available: ${MISSING[*]}" >&2
  exit 1
fi
exit 0
