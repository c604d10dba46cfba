#!/usr/bin/env bash
# selftests/pki.sh DIR - make the test PKI in DIR (once; skipped when
# DIR/done exists).  EC P-256 keys, SHA-256, 825-day validity, openssl CLI
# only.  Files (every .key is an unencrypted PEM private key):
#
#   root.crt root.key           root CA "ktlsd test root"
#   inter.crt inter.key         intermediate CA, signed by the root
#   ca.crt                      trust bundle: root + intermediate (CAfile)
#   root-only.crt               the root alone
#   server.crt server.key       leaf CN=localhost, SAN DNS:localhost,
#                               IP:127.0.0.1, IP:::1, EKU serverAuth+clientAuth,
#                               signed by the intermediate
#   server-chain.crt            server leaf + intermediate
#   server.pem                  server leaf + intermediate + key
#   server.p12                  PKCS#12 of the server key, leaf and
#                               intermediate, empty password
#   client.crt client.key       good client (CN=client), by the intermediate
#   client.pem                  client leaf + key
#   client2.crt client2.key     another good client (CN=client2)
#   revoked.crt revoked.key     client revoked in inter.crl
#   expired.crt expired.key     client valid 2020-01-01 .. 2020-02-01
#   other-ca.crt other-ca.key   an unrelated self-signed CA
#   other.crt other.key         client signed by other-ca (CN=client)
#   root.crl inter.crl          CRLs of the root and of the intermediate
#   crl.pem                     both CRLs (CRLfile, works with CRL_CHECK_ALL)
#   capath/                     hashed dir with root + intermediate (CApath)
#   crlpath/                    hashed dir with both CRLs (CRLpath)
#   done                        marker: the PKI is complete
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
D=$1
[ -e "$D/done" ] && exit 0
mkdir -p "$D"
D=$(cd "$D" && pwd)

# Serialise concurrent callers; the second one finds "done".
exec 9>"$D/.lock"
flock 9
[ -e "$D/done" ] && exit 0

W=$D/.work
rm -rf "$W"
mkdir -p "$W"
cd "$D"

DAYS=825

cat >"$W/ext.cnf" <<'EOT'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
default_ca = ca_default
[ca_default]
dir = $ENV::CADIR
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 825
default_crl_days = 825
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = supplied
organizationName = optional
[v3_root]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_inter]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_server]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_client]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[crl_ext]
authorityKeyIdentifier = keyid:always
EOT
export OPENSSL_CONF=$W/ext.cnf
export CADIR=$W	# referenced by ext.cnf, set per CA below

q() { "$@" >"$W/out" 2>&1 || { cat "$W/out" >&2; exit 1; }; }

key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$1.key"; }

# cadir NAME: the openssl-ca database of the CA NAME
cadir() {
	mkdir -p "$W/$1/new"
	: >"$W/$1/index.txt"
	echo 1000 >"$W/$1/serial"
	echo 1000 >"$W/$1/crlnumber"
}

# sign CA EXT NAME CN [ca args...]: key + CSR + certificate NAME.crt
sign() {
	local ca=$1 ext=$2 name=$3 cn=$4
	shift 4
	key "$name"
	q openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$W/$name.csr"
	CADIR=$W/$ca q openssl ca -batch -notext -config "$W/ext.cnf" \
		-cert "$ca.crt" -keyfile "$ca.key" -extensions "$ext" \
		-in "$W/$name.csr" -out "$name.crt" "$@"
}

gencrl() {
	CADIR=$W/$1 q openssl ca -batch -config "$W/ext.cnf" -gencrl \
		-cert "$1.crt" -keyfile "$1.key" -crlexts crl_ext -out "$1.crl"
}

# Root and an unrelated CA, self-signed.
for ca in root other-ca; do
	key "$ca"
	cn="ktlsd test root"
	[ "$ca" = other-ca ] && cn="ktlsd unrelated CA"
	q openssl req -x509 -new -key "$ca.key" -subj "/CN=$cn" -days 3650 \
		-sha256 -extensions v3_root -out "$ca.crt"
	cadir "$ca"
done

sign root v3_inter inter "ktlsd test intermediate" -days 3000
cadir inter

sign inter v3_server server localhost
sign inter v3_client client client
sign inter v3_client client2 client2
sign inter v3_client revoked revoked
sign inter v3_client expired expired \
	-startdate 20200101000000Z -enddate 20200201000000Z
sign other-ca v3_client other client

CADIR=$W/inter q openssl ca -config "$W/ext.cnf" -cert inter.crt \
	-keyfile inter.key -revoke revoked.crt -crl_reason keyCompromise
gencrl root
gencrl inter
cat root.crl inter.crl >crl.pem

cat root.crt inter.crt >ca.crt
cp root.crt root-only.crt
cat server.crt inter.crt >server-chain.crt
cat server-chain.crt server.key >server.pem
cat client.crt client.key >client.pem
q openssl pkcs12 -export -in server.crt -inkey server.key \
	-certfile inter.crt -name server -out server.p12 -passout pass:

rm -rf capath crlpath
mkdir capath crlpath
cp root.crt inter.crt capath/
cp root.crl inter.crl crlpath/
q openssl rehash capath
q openssl rehash crlpath

# Self-check: the properties the tests rely on.
v() { openssl verify -CAfile ca.crt "$@" 2>&1 || true; }
v server.crt | grep -q ': OK$'
v -crl_check_all -CRLfile crl.pem client.crt | grep -q ': OK$'
v -crl_check_all -CRLfile crl.pem revoked.crt | grep -q 'revoked'
v expired.crt | grep -q 'expired'
v other.crt | grep -q "unable to get local issuer"

chmod 0644 ./*.crt ./*.crl ./*.pem ./*.p12
chmod 0600 ./*.key server.pem client.pem
rm -rf "$W"
touch done
