// Builds npm/, the `tsgi` package for Node and bundlers, from the sources
// JSR publishes: dnt's job, done with the pinned TypeScript compiler API.
//
//   deno run -A scripts/build_npm.ts      (or `deno task build:npm`)
//   node scripts/build_npm.ts             (Node with type stripping, >= 22.18)
//
// In a fresh clone it first installs the pinned dev tools (scripts/tools.sh),
// for the TypeScript compiler it builds with.
//
// It type-checks the sources against the web platform's types only (no
// Deno or Node globals), emits ES2022 modules with `.d.ts` beside them,
// rewrites `.ts` import specifiers to `.js`, and writes a package.json whose
// exports map mirrors deno.json's. The package has no dependencies: any
// import that leaves the repository fails the build.

import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type * as TS from "../tools/node_modules/typescript/lib/typescript.d.ts";

/**
 * Executables for package.json's "bin": command name → source file. The
 * build compiles each one, gives it a Node shebang and makes it executable.
 */
const BIN: Record<string, string> = {
  tsgi: "./src/cli/_bin.ts",
};

/** Where the package's README, repository and issues live. */
const REPOSITORY = "https://github.com/tsgi/tsgi";

/**
 * Node versions: require() of an ES module without a flag (20.19, 22.12)
 * and process.getBuiltinModule() (20.16, 22.3), which loads node:http
 * without an import() a Workers bundler would follow.
 */
const NODE_ENGINES = "^20.19.0 || >=22.12.0";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "npm");
const typescriptDir = join(root, "tools/node_modules/typescript");

/** Installs the pinned dev tools when a fresh clone has none yet. */
function ensureTools(): void {
  if (existsSync(join(typescriptDir, "package.json"))) return;
  console.error(
    "tools/node_modules/typescript is missing: installing the pinned dev tools (. scripts/tools.sh)",
  );
  const installed = spawnSync("bash", ["-c", ". scripts/tools.sh"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (
    installed.status !== 0 || !existsSync(join(typescriptDir, "package.json"))
  ) {
    console.error(
      "Cannot build npm/: installing the dev tools failed; run `. scripts/tools.sh` and try again",
    );
    process.exit(1);
  }
}

ensureTools();
const ts: typeof TS = createRequire(import.meta.url)(typescriptDir);

interface DenoJson {
  version: string;
  license?: string;
  exports: Record<string, string>;
}
const denoJson: DenoJson = JSON.parse(
  readFileSync(join(root, "deno.json"), "utf8"),
);

/** `./src/serve/serve.ts` → `./src/serve/serve` (the emitted path, without extension). */
function stem(path: string): string {
  if (!path.startsWith("./") || !path.endsWith(".ts")) {
    throw new Error(
      `Cannot build ${JSON.stringify(path)}: expected a "./…ts" path`,
    );
  }
  return path.slice(0, -3);
}

/** A relative `.ts` specifier as the emitted files must spell it. */
function toJs(specifier: string): string {
  return /^\.\.?\//.test(specifier) && specifier.endsWith(".ts") &&
      !specifier.endsWith(".d.ts")
    ? specifier.slice(0, -3) + ".js"
    : specifier;
}

/**
 * Rewrites `.ts` specifiers in declaration files; TypeScript's
 * rewriteRelativeImportExtensions does it for the JavaScript only.
 */
function rewriteDeclarations(
  context: TS.TransformationContext,
): (node: TS.SourceFile | TS.Bundle) => TS.SourceFile | TS.Bundle {
  const f = context.factory;
  const literal = (node: TS.Expression): TS.StringLiteral | undefined => {
    if (!ts.isStringLiteral(node)) return undefined;
    const fixed = toJs(node.text);
    return fixed === node.text ? undefined : f.createStringLiteral(fixed);
  };
  const visit = (node: TS.Node): TS.Node => {
    if (ts.isImportDeclaration(node)) {
      const fixed = literal(node.moduleSpecifier);
      if (fixed !== undefined) {
        return f.updateImportDeclaration(
          node,
          node.modifiers,
          node.importClause,
          fixed,
          node.attributes,
        );
      }
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const fixed = literal(node.moduleSpecifier);
      if (fixed !== undefined) {
        return f.updateExportDeclaration(
          node,
          node.modifiers,
          node.isTypeOnly,
          node.exportClause,
          fixed,
          node.attributes,
        );
      }
    } else if (
      ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)
    ) {
      const fixed = literal(node.argument.literal as TS.Expression);
      if (fixed !== undefined) {
        return f.updateImportTypeNode(
          node,
          f.createLiteralTypeNode(fixed),
          node.attributes,
          node.qualifier,
          node.typeArguments,
          node.isTypeOf,
        );
      }
    }
    return ts.visitEachChild(node, visit, context);
  };
  return (node) =>
    ts.isSourceFile(node) ? ts.visitEachChild(node, visit, context) : node;
}

function fail(
  diagnostics: readonly TS.Diagnostic[],
  host: TS.CompilerHost,
): never {
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  throw new Error(
    `Cannot build npm/: TypeScript reported ${diagnostics.length} problem(s)`,
  );
}

function build(): void {
  const entries = [
    ...Object.values(denoJson.exports),
    ...Object.values(BIN),
  ];
  const options: TS.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    // The web platform only: runtime globals are declared where used. ES
    // features are listed one by one so the check keeps to what Node 20 has.
    lib: [
      "lib.es2022.d.ts",
      // String#toWellFormed (src/gateway/_request_rules.ts): in every runtime tsgi supports,
      // Node 20 included.
      "lib.es2024.string.d.ts",
      "lib.esnext.disposable.d.ts",
      "lib.dom.d.ts",
      "lib.dom.iterable.d.ts",
      "lib.dom.asynciterable.d.ts",
    ],
    types: [],
    strict: true,
    declaration: true,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    skipLibCheck: true,
    rootDir: root,
    outDir: out,
    newLine: ts.NewLineKind.LineFeed,
    noEmitOnError: true,
  };
  const host = ts.createCompilerHost(options);
  const program = ts.createProgram(
    entries.map((entry) => join(root, entry)),
    options,
    host,
  );

  // No runtime dependencies: every module must come from this repository.
  const strays = program.getSourceFiles()
    .filter((file) => !program.isSourceFileDefaultLibrary(file))
    .map((file) => relative(root, file.fileName))
    .filter((path) =>
      path.startsWith("..") || path.split(sep).includes("node_modules")
    );
  if (strays.length > 0) {
    throw new Error(
      `Cannot build npm/: the package must have no dependencies, but it imports ${
        strays.join(", ")
      }`,
    );
  }

  const problems = ts.getPreEmitDiagnostics(program);
  if (problems.length > 0) fail(problems, host);

  rmSync(out, { recursive: true, force: true });
  // The doc examples name the JSR package; on npm it is `tsgi`.
  const writeFile: TS.WriteFileCallback = (name, text, bom) => {
    text = text.replaceAll('"@tsgi/tsgi', '"tsgi');
    // A declaration naming Symbol.asyncDispose needs the lib that declares
    // it, which a project with `target` es2022 and no @types/node lacks.
    if (name.endsWith(".d.ts") && /\bSymbol\.(async)?[dD]ispose\b/.test(text)) {
      text = '/// <reference lib="esnext.disposable" />\n' + text;
    }
    ts.sys.writeFile(name, text, bom);
  };
  const result = program.emit(undefined, writeFile, undefined, undefined, {
    afterDeclarations: [rewriteDeclarations],
  });
  if (result.diagnostics.length > 0 || result.emitSkipped) {
    fail(result.diagnostics, host);
  }

  // `default` after `import`: require() takes it (require(esm), see
  // NODE_ENGINES), as do tools that know neither condition.
  const exportsMap: Record<string, unknown> = {};
  // For `moduleResolution: node` (node10), which ignores "exports".
  const typesPaths: Record<string, string[]> = {};
  for (const [key, path] of Object.entries(denoJson.exports)) {
    exportsMap[key] = {
      types: `${stem(path)}.d.ts`,
      import: `${stem(path)}.js`,
      default: `${stem(path)}.js`,
    };
    if (key !== ".") typesPaths[key.slice(2)] = [`${stem(path)}.d.ts`];
  }
  exportsMap["./package.json"] = "./package.json";
  const bin: Record<string, string> = {};
  for (const [name, path] of Object.entries(BIN)) {
    const file = join(out, `${stem(path)}.js`);
    const code = readFileSync(file, "utf8").replace(/^#!.*\n/, "");
    writeFileSync(file, "#!/usr/bin/env node\n" + code);
    chmodSync(file, 0o755);
    bin[name] = `${stem(path)}.js`;
  }
  const main = stem(denoJson.exports["."]);
  const pkg = {
    name: "tsgi",
    version: denoJson.version,
    description:
      "Python's WSGI (PEP 3333) for the Fetch-API runtimes: Node, Deno, Bun and Cloudflare Workers",
    license: denoJson.license ?? "MIT",
    keywords: ["wsgi", "pep3333", "http", "server", "fetch", "gateway"],
    homepage: `${REPOSITORY}#readme`,
    repository: { type: "git", url: `git+${REPOSITORY}.git` },
    bugs: { url: `${REPOSITORY}/issues` },
    type: "module",
    main: `${main}.js`,
    types: `${main}.d.ts`,
    exports: exportsMap,
    typesVersions: { "*": typesPaths },
    ...(Object.keys(bin).length > 0 ? { bin } : {}),
    // WebSocket on Node is framed by ws, loaded only when a WebSocket
    // request arrives; everything else runs without it.
    peerDependencies: { ws: "^8.0.0" },
    peerDependenciesMeta: { ws: { optional: true } },
    sideEffects: false,
    engines: { node: NODE_ENGINES },
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "package.json"),
    JSON.stringify(pkg, null, 2) + "\n",
  );
  // The README on npmjs.com is written for Node users; its links are
  // absolute, as the repository's docs are not in the package.
  copyFileSync(join(root, "scripts/npm_readme.md"), join(out, "README.md"));
  mkdirSync(join(out, "docs"), { recursive: true });
  for (const file of ["LICENSE", "SPEC.md", "docs/pep3333_rules.md"]) {
    copyFileSync(join(root, file), join(out, file));
  }
  const emitted =
    program.getSourceFiles().filter((file) =>
      !program.isSourceFileDefaultLibrary(file)
    ).length;
  console.log(
    `npm/: tsgi@${pkg.version}, ${emitted} modules (.js + .d.ts), ${
      Object.keys(exportsMap).length - 1
    } entry points, ${
      Object.keys(bin).length
    } bin, no dependencies (ws an optional peer)`,
  );
}

try {
  build();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
