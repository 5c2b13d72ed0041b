// Commands to their end, and self-signed certificates made by openssl, for
// the tests that serve HTTPS (tests/serve, tests/cli).
import assert from "node:assert/strict";

/** What a finished command printed, and its exit code. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end. */
export async function run(program: string, args: string[]): Promise<Output> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** A self-signed certificate for localhost and 127.0.0.1, made by openssl. */
export async function certificate(
  dir: string,
  name: string,
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/${name}.pem`;
  const key = `${dir}/${name}.key`;
  const out = await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  assert.equal(out.code, 0, out.stderr);
  return { cert, key };
}
