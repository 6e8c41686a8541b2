# shellcheck shell=bash
# token.sh - `tt token`: mint a development HS256 JWT.
#
# Header {"alg":"HS256","typ":"JWT"}; claims userId, venueId, role ("admin"
# or "user"), permissions (array of strings), iat, exp. Signed with --secret,
# else JWT_SECRET, else the development default that the C services also use
# when NODE_ENV is not production. openssl does the HMAC; nothing else needed.

TT_DEV_JWT_SECRET=dev-only-insecure-jwt-secret
TT_DEV_VENUE="venue-1"
TT_DEV_PERMISSIONS=analytics.read,analytics.write,analytics.export

# A JSON string literal for $1.
json_str() {
	local s=$1 out="" c i code
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		'"') out+='\"' ;;
		'\') out+='\\' ;;
		$'\n') out+='\n' ;;
		$'\r') out+='\r' ;;
		$'\t') out+='\t' ;;
		*)
			printf -v code '%d' "'$c"
			if ((code >= 0 && code < 32)); then
				printf -v c '\\u%04x' "$code"
			fi
			out+=$c
			;;
		esac
	done
	printf '"%s"' "$out"
}

b64url() {
	openssl base64 -A | tr '+/' '-_' | tr -d '='
}

cmd_token() {
	local venue="" admin=0 user="" perms=$TT_DEV_PERMISSIONS perms_set=0 ttl=86400
	local secret=${JWT_SECRET:-$TT_DEV_JWT_SECRET}
	while (($#)); do
		case $1 in
		--venue) venue=${2:?tt token: --venue needs an ID}; shift 2 ;;
		--venue=*) venue=${1#*=}; shift ;;
		--admin) admin=1; shift ;;
		--user) user=${2:?tt token: --user needs an ID}; shift 2 ;;
		--user=*) user=${1#*=}; shift ;;
		--permissions) perms=${2-}; perms_set=1; shift 2 ;;
		--permissions=*) perms=${1#*=}; perms_set=1; shift ;;
		--ttl) ttl=${2:?tt token: --ttl needs seconds}; shift 2 ;;
		--ttl=*) ttl=${1#*=}; shift ;;
		--secret) secret=${2:?tt token: --secret needs a value}; shift 2 ;;
		--secret=*) secret=${1#*=}; shift ;;
		-h | --help)
			echo "usage: tt token [--venue ID | --admin] [--user ID] [--permissions a,b] [--ttl SECONDS] [--secret S]"
			return 0 ;;
		*) die "token: unknown option '$1' (see tools/tt token --help)" ;;
		esac
	done
	((admin)) && [[ -n $venue ]] && die "token: --venue and --admin are exclusive"
	[[ $ttl =~ ^-?[0-9]+$ ]] || die "token: --ttl must be a whole number of seconds"
	[[ -n $secret ]] || die "token: empty secret"
	command -v openssl >/dev/null || die "token: openssl not found"

	local role=user
	if ((admin)); then
		role="admin"
		((perms_set)) || perms="*"
	else
		: "${venue:=$TT_DEV_VENUE}"
	fi
	: "${user:=dev-$role}"

	local plist="" p
	local -a parr=()
	[[ -n $perms ]] && IFS=, read -r -a parr <<<"$perms"
	for p in "${parr[@]}"; do
		[[ -n $p ]] || continue
		plist+=${plist:+,}$(json_str "$p")
	done
	local now
	now=$(date +%s)
	local venue_json=null
	[[ -n $venue ]] && venue_json=$(json_str "$venue")
	local claims
	claims=$(printf '{"userId":%s,"venueId":%s,"role":"%s","permissions":[%s],"iat":%d,"exp":%d}' \
		"$(json_str "$user")" "$venue_json" "$role" "$plist" "$now" $((now + ttl)))
	local head body sig key_hex
	head=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
	body=$(printf '%s' "$claims" | b64url)
	key_hex=$(printf '%s' "$secret" | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s' "$head.$body" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | b64url)
	printf '%s.%s.%s\n' "$head" "$body" "$sig"
}
