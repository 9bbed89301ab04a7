#!/bin/sh
# Makes the certificates of the example factory's Modbus/TCP Security
# conduit (hmi-to-plc-secure in ../example-factory.yaml), the way the
# README's recipe ("Modbus/TCP Security", "Certificates with openssl")
# does, with 20 years of validity so that the committed files outlast the
# demo:
#
#   plant-ca.crt, plant-ca.key   the demo plant CA (its key is committed:
#                                DEMO ONLY, never trust this CA on a plant)
#   plant-ca.crl                 its CRL (nothing revoked; valid 20 years)
#   gw.crt, gw.key               the gateway's certificate, for the PLC
#                                addresses 198.18.40.10 and 198.18.40.11
#   clients/operator.crt, .key   client certificates with the role
#   clients/engineer.crt, .key   extension operator / engineer
#
# zonelab probes a secure conduit with clients/ROLE.crt next to its first
# client CA. Run it from anywhere: `sh configs/tls/make-demo-certs.sh`.
set -eu
cd "$(dirname "$0")"
days=7300
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p clients
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/O=Example Factory/CN=Example Factory Modbus CA (demo)" -keyout plant-ca.key -out plant-ca.crt \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
mkdir -p "$work/ca" && touch "$work/ca/index.txt" && echo 1000 > "$work/ca/crlnumber"
printf '[ca]\ndefault_ca = plant\n[plant]\ndatabase = %s/ca/index.txt\ncrlnumber = %s/ca/crlnumber\ndefault_md = sha256\ndefault_crl_days = %s\n' \
  "$work" "$work" "$days" > "$work/ca.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/O=Example Factory/CN=line3-gw" -keyout gw.key -out "$work/gw.csr"
printf 'subjectAltName = IP:198.18.40.10, IP:198.18.40.11\nextendedKeyUsage = serverAuth\n' > "$work/gw.ext"
openssl x509 -req -in "$work/gw.csr" -CA plant-ca.crt -CAkey plant-ca.key -CAcreateserial -CAserial "$work/ca.srl" \
  -days "$days" -extfile "$work/gw.ext" -out gw.crt
for role in operator engineer; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/O=Example Factory/CN=hmi-1 $role" -keyout "clients/$role.key" -out "$work/$role.csr"
  printf 'extendedKeyUsage = clientAuth\n1.3.6.1.4.1.50316.802.1 = ASN1:UTF8String:%s\n' "$role" > "$work/$role.ext"
  openssl x509 -req -in "$work/$role.csr" -CA plant-ca.crt -CAkey plant-ca.key -CAserial "$work/ca.srl" \
    -days "$days" -extfile "$work/$role.ext" -out "clients/$role.crt"
done
openssl ca -config "$work/ca.cnf" -cert plant-ca.crt -keyfile plant-ca.key -gencrl -out plant-ca.crl
chmod 600 ./*.key clients/*.key
echo "made the demo certificates in $(pwd)"
