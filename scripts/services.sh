#!/usr/bin/env bash
# Makes sure what the tests need is there: MariaDB (UMA_TEST_MYSQL_URL, default 127.0.0.1:3306,
# root without password), Redis (UMA_TEST_REDIS_URL, default 127.0.0.1:6379), OpenLDAP's slapd
# (the LDAP tests start their own) and Chromium (browser tests). A running server is used as it
# is. Otherwise, when root, missing Debian packages are installed and a throwaway server is
# started under target/services; when not root, it says what to install or start.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
state="$here/target/services"
mkdir -p "$state"

mysql_url=${UMA_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}
redis_url=${UMA_TEST_REDIS_URL:-redis://127.0.0.1:6379}
hostport() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; echo "$rest"; }
mysql_hp=$(hostport "$mysql_url"); redis_hp=$(hostport "$redis_url")
mysql_host=${mysql_hp%%:*}; mysql_port=${mysql_hp##*:}
redis_host=${redis_hp%%:*}; redis_port=${redis_hp##*:}

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {
  local name=$1 host=$2 port=$3
  for _ in $(seq 1 60); do
    answers "$host" "$port" && return 0
    sleep 0.5
  done
  echo "services: $name did not start on $host:$port (see $state/*.log)" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "services: $1 is needed for the tests: install the Debian package(s) '$*' or start a server and set the URL (see README)" >&2
    exit 1
  fi
  echo "services: installing $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

if answers "$mysql_host" "$mysql_port"; then
  echo "services: MariaDB answers on $mysql_host:$mysql_port"
else
  if [ "$mysql_host" != "127.0.0.1" ] && [ "$mysql_host" != "localhost" ]; then
    echo "services: MariaDB at $mysql_hp does not answer; start it or fix UMA_TEST_MYSQL_URL" >&2
    exit 1
  fi
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  if [ "$(id -u)" -ne 0 ]; then
    echo "services: MariaDB does not answer on $mysql_hp; start it (e.g. 'sudo service mariadb start')" >&2
    exit 1
  fi
  echo "services: starting a throwaway MariaDB on $mysql_port"
  datadir="$state/mariadb"
  if [ ! -d "$datadir/mysql" ]; then
    mkdir -p "$datadir"
    mariadb-install-db --user=root --datadir="$datadir" --auth-root-authentication-method=normal >"$state/mariadb-init.log" 2>&1
  fi
  /usr/sbin/mariadbd --user=root --datadir="$datadir" --port="$mysql_port" --bind-address=127.0.0.1 \
    --socket="$state/mariadb.sock" --pid-file="$state/mariadb.pid" \
    >"$state/mariadb.log" 2>&1 &
  wait_for MariaDB 127.0.0.1 "$mysql_port"
fi

if answers "$redis_host" "$redis_port"; then
  echo "services: Redis answers on $redis_host:$redis_port"
else
  if [ "$redis_host" != "127.0.0.1" ] && [ "$redis_host" != "localhost" ]; then
    echo "services: Redis at $redis_hp does not answer; start it or fix UMA_TEST_REDIS_URL" >&2
    exit 1
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  echo "services: starting a throwaway Redis on $redis_port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --dir "$state" --logfile "$state/redis.log" >/dev/null
  wait_for Redis 127.0.0.1 "$redis_port"
fi

if [ -x /usr/sbin/slapd ]; then
  echo "services: slapd is installed (the LDAP tests start their own)"
else
  apt_install slapd ldap-utils
fi

if [ -x "${UMA_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "services: Chromium is installed"
else
  apt_install chromium
fi

# OpenSSL headers for the Socket.IO load client (bench/swarm: the rust_socketio crate links it).
if pkg-config --exists openssl 2>/dev/null; then
  echo "services: OpenSSL development files are installed"
else
  apt_install libssl-dev pkg-config
fi

# Colour emoji for chat reactions in screenshots (the pages work without it).
if [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  echo "services: emoji font is installed"
elif [ "$(id -u)" = "0" ]; then
  apt_install fonts-noto-color-emoji || echo "services: emoji font not installed (optional)"
fi
