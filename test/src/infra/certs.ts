/*
 * Certificates for the test servers, made with the openssl CLI (Node's crypto
 * makes keys but cannot issue X.509 certificates). EC P-256 keys: fast to make
 * and accepted by Go's TLS stack, Node and libtrust (the registry's JWT check).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireExecutable } from './process';

const run = promisify(execFile);

export interface CertPair {
  certFile: string;
  keyFile: string;
  certPem: string;
}

function openssl(): string {
  return requireExecutable(
    'openssl',
    'install it with `apt-get install -y openssl` (or run scripts/ensure-system-deps.sh)',
  );
}

async function newKey(keyFile: string): Promise<void> {
  // genpkey writes PKCS#8, which every consumer here reads without fuss.
  await run(openssl(), [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    keyFile,
  ]);
}

/** A self-signed CA certificate (also usable as a self-signed signing cert). */
export async function createCA(
  dir: string,
  name: string,
  commonName: string,
): Promise<CertPair> {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  await newKey(keyFile);
  await run(openssl(), [
    'req',
    '-x509',
    '-new',
    '-key',
    keyFile,
    '-out',
    certFile,
    '-days',
    '7',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile, certPem: fs.readFileSync(certFile, 'utf8') };
}

/** A TLS serving certificate for `ips` and `dnsNames`, signed by `ca`. */
export async function createServingCert(
  dir: string,
  name: string,
  ca: CertPair,
  sans: { ips: string[]; dnsNames: string[] },
): Promise<CertPair> {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  const csrFile = path.join(dir, `${name}.csr`);
  const extFile = path.join(dir, `${name}.ext`);
  await newKey(keyFile);
  await run(openssl(), [
    'req',
    '-new',
    '-key',
    keyFile,
    '-out',
    csrFile,
    '-subj',
    `/CN=${name}`,
  ]);
  const altNames = [
    ...sans.ips.map(ip => `IP:${ip}`),
    ...sans.dnsNames.map(dns => `DNS:${dns}`),
  ].join(',');
  fs.writeFileSync(
    extFile,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${altNames}`,
    ].join('\n'),
  );
  await run(openssl(), [
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    '7',
    '-extfile',
    extFile,
  ]);
  return { certFile, keyFile, certPem: fs.readFileSync(certFile, 'utf8') };
}
