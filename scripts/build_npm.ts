// Builds npm/, the `tsgi` package for Node and bundlers, from the sources
// JSR publishes: dnt's job, done with the pinned TypeScript compiler API.
//
//   deno run -A scripts/build_npm.ts      (or `deno task build:npm`)
//   node scripts/build_npm.ts             (Node with type stripping, >= 22.18)
//
// It type-checks the sources against the web platform's types only (no
// Deno or Node globals), emits ES2022 modules with `.d.ts` beside them,
// rewrites `.ts` import specifiers to `.js`, and writes a package.json whose
// exports map mirrors deno.json's. The package has no dependencies: any
// import that leaves the repository fails the build.

import { createRequire } from "node:module";
import {
  chmodSync,
  copyFileSync,
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

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "npm");
const ts: typeof TS = createRequire(import.meta.url)(
  join(root, "tools/node_modules/typescript"),
);

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
  const writeFile: TS.WriteFileCallback = (name, text, bom) =>
    ts.sys.writeFile(name, text.replaceAll('"@tsgi/tsgi', '"tsgi'), bom);
  const result = program.emit(undefined, writeFile, undefined, undefined, {
    afterDeclarations: [rewriteDeclarations],
  });
  if (result.diagnostics.length > 0 || result.emitSkipped) {
    fail(result.diagnostics, host);
  }

  const exportsMap: Record<string, unknown> = {};
  for (const [key, path] of Object.entries(denoJson.exports)) {
    exportsMap[key] = {
      types: `${stem(path)}.d.ts`,
      import: `${stem(path)}.js`,
    };
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
    type: "module",
    main: `${main}.js`,
    types: `${main}.d.ts`,
    exports: exportsMap,
    ...(Object.keys(bin).length > 0 ? { bin } : {}),
    sideEffects: false,
    engines: { node: ">=20" },
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "package.json"),
    JSON.stringify(pkg, null, 2) + "\n",
  );
  // The rules validator() cites by ID go with it.
  mkdirSync(join(out, "docs"), { recursive: true });
  for (const file of ["README.md", "LICENSE", "docs/pep3333_rules.md"]) {
    copyFileSync(join(root, file), join(out, file));
  }
  const emitted =
    program.getSourceFiles().filter((file) =>
      !program.isSourceFileDefaultLibrary(file)
    ).length;
  console.log(
    `npm/: tsgi@${pkg.version}, ${emitted} modules (.js + .d.ts), ${
      Object.keys(exportsMap).length - 1
    } entry points, ${Object.keys(bin).length} bin, no dependencies`,
  );
}

try {
  build();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
