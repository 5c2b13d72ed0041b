// The README's Recipes section stays true to examples/: every file it names
// exists, each example under examples/ is run by some test, and the From
// Python WSGI table names what mod.ts exports.
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);
const exists = (path: string) =>
  Deno.stat(`${root}${path}`).then(() => true, () => false);

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.notEqual(start, -1, `README.md has no "## ${title}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

async function testSources(dir = `${root}tests`): Promise<string> {
  let all = "";
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== ".tmp") {
      all += await testSources(path);
    } else if (/\.(ts|mjs)$/.test(entry.name)) {
      all += await Deno.readTextFile(path);
    }
  }
  return all;
}

Deno.test("README recipes: every file named exists", async () => {
  const named = new Set(
    section("Recipes").match(
      /\b(?:examples|tests|scripts\/ci)\/[\w./]+\.(?:ts|mjs|cgi|sh)\b/g,
    ),
  );
  assert.ok(named.size >= 10, `only ${[...named].join(", ")}`);
  for (const path of named) {
    assert.ok(await exists(path), `README.md names ${path}, which is missing`);
  }
});

Deno.test("README recipes: every example is run by a test", async () => {
  const tests = await testSources();
  for await (const entry of Deno.readDir(`${root}examples`)) {
    if (entry.name.startsWith("_") || !entry.isFile) continue;
    assert.ok(
      tests.includes(`examples/${entry.name}`),
      `no test under tests/ runs examples/${entry.name}`,
    );
  }
});

Deno.test("README: the From Python WSGI table names what mod.ts exports", async () => {
  const mod = await import("../../mod.ts");
  // The tsgi column: the second cell of each row.
  const tsgi = section("From Python WSGI").split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.split(" | ")[1] ?? "")
    .join("\n");
  const called = new Set(
    [...tsgi.matchAll(/`(?:await )?([a-zA-Z]+)\(/g)].map((m) => m[1]),
  );
  called.delete("app"); // the user's own app
  assert.ok(called.size >= 10, [...called].join(", "));
  const named = ["HeaderList", "Router", "FileWrapper", "ReadableInputStream"];
  for (const name of named) assert.ok(tsgi.includes(`\`${name}\``), name);
  const missing = [...called, ...named].filter((name) => !(name in mod));
  assert.deepEqual(missing, []);
});
