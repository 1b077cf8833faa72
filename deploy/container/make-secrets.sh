#!/bin/sh
# Creates the files that compose.yaml and compose.secure.yaml mount as secrets, then
# hands each to the user that reads it inside the containers.
#
#   ./make-secrets.sh [--dir DIR] [--engine docker|podman|none] [--image IMAGE] [--no-api-key]
#
# In DIR (default: secrets/ beside this script, mode 0700), each only when missing:
#   extrahop_api_key             the ExtraHop REST API key, read from standard input
#   mongo_keyfile                replica set internal authentication key (--keyFile), 0400
#   mongo_root_password          MongoDB root user (MONGO_INITDB_ROOT_PASSWORD_FILE)
#   ticketsync_mongodb_password  ticketsync's MongoDB user (mongo-init/ticketsync-user.js)
#   ticketsync_mongodb.ini       [mongodb] uri with that password (ticketsync's -c file)
# compose.yaml (evaluation) reads only extrahop_api_key. Passwords and the key file are
# random letters and digits (nothing to escape in a URI).
#
# Owners: compose mounts a file-backed secret as a bind mount of the host file, with
# the host file's owner and mode (it honours a secret's uid/gid/mode only in swarm), and
# the containers read as uid 10001 (ticketsync) and 999 (mongod in the official image).
# Which host uid that is depends on the engine: the same number with a rootful engine,
# a subordinate uid with a rootless one (Docker rootless, Podman). So chown runs in a
# throwaway container of the same engine, where the numbers mean what they mean to the
# services. --engine none skips it (check.py does).
set -eu

prog=make-secrets.sh
here=$(cd "$(dirname "$0")" && pwd)
dir=$here/secrets
engine=${CONTAINER_ENGINE:-docker}
image=ticketsync:latest
api_key=yes

usage() {
	sed -n 's/^#   \(\.\/make-secrets\.sh \)/usage: \1/p' "$here/$prog"
}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--dir|--engine|--image)
		[ $# -ge 2 ] || { printf '%s: %s needs a value\n' "$prog" "$1" >&2; exit 2; }
		case $1 in
		--dir) dir=$2 ;;
		--engine) engine=$2 ;;
		--image) image=$2 ;;
		esac
		shift 2
		;;
	--no-api-key) api_key=no; shift ;;
	-h|--help) usage; exit 0 ;;
	*) printf '%s: unknown argument "%s"\n' "$prog" "$1" >&2; usage >&2; exit 2 ;;
	esac
done
case $engine in
docker|podman|none) ;;
*) printf '%s: --engine must be docker, podman or none, not "%s"\n' "$prog" "$engine" >&2; exit 2 ;;
esac

umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
dir=$(cd "$dir" && pwd)

missing() {
	[ ! -e "$dir/$1" ] && [ ! -L "$dir/$1" ]
}

# random LENGTH [CHARACTERS]
random() {
	LC_ALL=C tr -dc "${2:-A-Za-z0-9}" </dev/urandom | head -c "$1"
}

if [ "$api_key" = yes ] && missing extrahop_api_key; then
	key=
	if [ -t 0 ]; then
		printf 'ExtraHop REST API key (not shown): ' >&2
		trap 'stty echo; exit 130' INT TERM
		stty -echo
		IFS= read -r key || :
		stty echo
		trap - INT TERM
		printf '\n' >&2
	else
		IFS= read -r key || :
	fi
	[ -n "$key" ] || die "no API key on standard input (--no-api-key skips it, for OAuth2)"
	printf '%s\n' "$key" >"$dir/extrahop_api_key"
	key=
fi

if missing mongo_keyfile; then
	# mongod takes 6 to 1024 base64 characters and refuses a key file that group or
	# others may read.
	random 756 'A-Za-z0-9+/' >"$dir/mongo_keyfile"
	chmod 0400 "$dir/mongo_keyfile"
fi

if missing mongo_root_password; then
	random 32 >"$dir/mongo_root_password"
	printf '\n' >>"$dir/mongo_root_password"
fi

# The password and the URI holding it are made together, or not at all.
if missing ticketsync_mongodb_password && missing ticketsync_mongodb.ini; then
	password=$(random 32)
	printf '%s\n' "$password" >"$dir/ticketsync_mongodb_password"
	{
		printf '; ticketsync reads this with -c (compose.secure.yaml); the environment sets the rest.\n'
		printf '[mongodb]\n'
		printf 'uri = mongodb://ticketsync:%s@mongo:27017/?replicaSet=rs0&authSource=admin\n' "$password"
	} >"$dir/ticketsync_mongodb.ini"
	password=
elif missing ticketsync_mongodb_password || missing ticketsync_mongodb.ini; then
	die "$dir: ticketsync_mongodb_password and ticketsync_mongodb.ini go together; remove the one that is left and run again"
fi

# own UID:GID FILE...: chown inside the engine (see the top of this file).
own() {
	owner=$1
	shift
	for f in "$@"; do
		shift
		[ -e "$dir/$f" ] && set -- "$@" "/s/$f"
	done
	[ $# -gt 0 ] || return 0
	"$engine" run --rm --network none --user 0 --entrypoint chown -v "$dir:/s" "$image" \
	    "$owner" "$@" ||
		die "chown $owner in a $engine container failed (is $image built? With userns-remap, chown on the host to the remapped uid instead; README.md, \"Secrets\")"
}

if [ "$engine" != none ]; then
	own 10001:10001 extrahop_api_key ticketsync_mongodb.ini
	own 999:999 mongo_keyfile mongo_root_password ticketsync_mongodb_password
fi
ls -ln "$dir"
