#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 20; CI uses that,
# run longer by hand: scripts/fuzz.sh 600). Seeds come from the protocol documents' examples.
# Crashes are written to build-fuzz/artifacts/ and fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
# (libFuzzer reads -max_total_time's leading digits, and 0 is no limit: "abc" fuzzed the first
# target for ever, its output hidden; "10m" ran 10 seconds.)
# (At most 9 digits before the comparison: test's -lt fails on numbers past its range, and that
# failure read as "in range": 99999999999999999999 fuzzed the first target for ever.)
if ! [[ $seconds =~ ^[0-9]{1,9}$ ]] || ((10#$seconds < 1)); then
  echo "fuzz.sh: SECONDS must be a whole number of seconds, 1..999999999 (got '$seconds')" >&2
  exit 2
fi
scripts/setup.sh
dir=build-fuzz
if [ ! -f "$dir/build.ninja" ]; then
  CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMIO_FUZZ=ON \
    -DSHMIO_BUILD_TESTS=OFF -DSHMIO_BUILD_BENCH=OFF -DSHMIO_BUILD_TOOLS=OFF
fi
ninja -C "$dir" -j "${SHMIO_JOBS:-2}" engineio_decode_fuzz socketio_decode_fuzz cluster_decode_fuzz \
  msgpack_decode_fuzz server_http_fuzz
mkdir -p "$dir/corpus/engineio" "$dir/corpus/socketio" "$dir/corpus/cluster" "$dir/corpus/msgpack" \
  "$dir/corpus/server_http" "$dir/artifacts"
i=0
for s in '0{"sid":"x","upgrades":[],"pingInterval":25000}' '2probe' '3' '4hello' 'bAQIDBA==' \
         $'4a\x1e4b\x1ebAQ==' '6'; do
  printf '%s' "$s" >"$dir/corpus/engineio/seed$((i++))"
done
for s in '0' '0/admin,{"token":"123"}' '1/admin,' '2["hello",1]' '2/admin,456["project:delete",123]' \
         '3/admin,456[]' '4{"message":"Not authorized"}' \
         $'51-["hello",{"_placeholder":true,"num":0}]\x00\x01\x02' \
         $'61-/admin,456[{"_placeholder":true,"num":0}]\x00x'; do
  printf '%s' "$s" >"$dir/corpus/socketio/seed$((i++))"
done
# Cluster records: a BROADCAST (rooms, except, an attachment; version 2 with its ack timeout, and
# version 1 without) and a JSON message with a blob.
printf '\x02\x04\x01\x00\x01\x00\x01\x00\x01\x00\x00\x00\x07\x00\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00\x30\x75\x00\x00/\x01\x00r\x01\x00x42["e"]\x02\x00\x00\x00zz' \
  >"$dir/corpus/cluster/seed-broadcast"
printf '\x01\x04\x01\x00\x01\x00\x01\x00\x01\x00\x00\x00\x07\x00\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00/\x01\x00r\x01\x00x42["e"]\x02\x00\x00\x00zz' \
  >"$dir/corpus/cluster/seed-broadcast-v1"
printf '\x0b\x00\x00\x00{"nsp":"/"}\x01\x00\x00\x00\x03\x00\x00\x00bin' >"$dir/corpus/cluster/seed-message"
# The classic Redis adapter's broadcast with a binary argument (notepack.io's bytes), and a request.
printf '\x93\xa6abc123\x83\xa4type\x02\xa4data\x93\xa4chat\x81\xa4text\xa2hi\xc4\x03\x01\x02\x03\xa3nsp\xa1/\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80' \
  >"$dir/corpus/msgpack/seed-broadcast"
printf '\x85\xa3uid\xa6abc123\xa9requestId\xa6xyz789\xa4type\x07\xa6packet\x80\xa4opts\x80' \
  >"$dir/corpus/msgpack/seed-request"
# One client's bytes to a real server ("@@": the id of a session handshaken just before): a
# long-poll, a POST (by length and chunked, with a trailer), a WebSocket upgrade of that session
# with its frames (masked with a zero key: the payload as it is), a fresh WebSocket, an app route.
# (Each seed is a printf format, so that it can hold NUL bytes: \x00.)
seed() { printf "$2" >"$dir/corpus/server_http/$1"; }
h='HTTP/1.1\r\nHost: f\r\n'
ws='Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
zero='\x00\x00\x00\x00'  # (a zero mask key)
seed get "GET /socket.io/?EIO=4&transport=polling&sid=@@ $h\r\n"
seed post "POST /socket.io/?EIO=4&transport=polling&sid=@@ ${h}Content-Length: 2\r\n\r\n40"
seed chunked "POST /socket.io/?EIO=4&transport=polling&sid=@@ ${h}Transfer-Encoding: chunked\r\n\r\n2\r\n40\r\n0\r\nX-T: 1\r\n\r\n"
seed upgrade "GET /socket.io/?EIO=4&transport=websocket&sid=@@ $h$ws\x81\x86${zero}2probe\x81\x81${zero}5\x81\x82${zero}40\x81\x95${zero}421[\"echo\",{\"a\":[1]}]"
seed websocket "GET /socket.io/?EIO=4&transport=websocket $h$ws\x81\x82${zero}40\x82\x83${zero}\x01\x02\x03"
seed deflate "GET /socket.io/?EIO=4&transport=websocket ${h}Sec-WebSocket-Extensions: permessage-deflate\r\n$ws\xc1\x84${zero}\x32\x31\x00\x00"
seed route "POST /echo ${h}Content-Length: 3\r\n\r\nabc"
seed client "GET /socket.io/socket.io.js?v=1 ${h}If-None-Match: W/\"1\", \"4.8.4\"\r\nAccept-Encoding: gzip;q=0, deflate\r\n\r\n"
for target in engineio socketio cluster msgpack; do
  echo "fuzz: ${target}_decode_fuzz for ${seconds}s"
  "$dir/tests/fuzz/${target}_decode_fuzz" -max_total_time="$seconds" -max_len=4096 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus/$target" 2>&1 | tail -n 3
done
echo "fuzz: server_http_fuzz for ${seconds}s"
"$dir/tests/fuzz/server_http_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -artifact_prefix="$dir/artifacts/" "$dir/corpus/server_http" 2>&1 | tail -n 3
echo "fuzz: no crash"
