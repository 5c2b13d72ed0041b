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

Deno.test("README: every TypeScript snippet that imports tsgi type-checks strictly, with no casts", async () => {
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((code) => code.includes('from "@tsgi/tsgi'));
  assert.ok(blocks.length >= 2, `only ${blocks.length} snippets`);
  const dir = `${root}tests/.tmp/readme_snippets`;
  await Deno.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [i, code] of blocks.entries()) {
    assert.doesNotMatch(code, /\bas (?!const\b)\w/, `snippet ${i} casts`);
    const file = `${dir}/snippet_${i}.ts`;
    // Each snippet is a module of its own, as in a user's app.
    await Deno.writeTextFile(file, code + "\nexport {};\n");
    files.push(file);
  }
  // The repository's deno.json maps @tsgi/tsgi to mod.ts, as the README's
  // Deno install section tells an app to; deno check is strict.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", ...files],
    cwd: root,
  }).output();
  assert.ok(
    out.success,
    new TextDecoder().decode(out.stderr).replaceAll(root, ""),
  );
});
