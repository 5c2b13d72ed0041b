// The layout rule: only the runtime folders (src/serve, src/cgi, src/cli,
// src/runtime) may name a runtime. Everywhere else in src/ the
// code uses web-standard APIs only, so a file that mentions `Deno`, `Bun`,
// the `process` global or a `node:` module, or imports from a runtime
// folder, fails this check (mod.ts, which re-exports every part, is not
// looked at). Comments do not count: the source is parsed
// with the pinned TypeScript compiler and only code is looked at.
//
//   deno run --allow-read --allow-env scripts/check_layout.ts
//
// A finding on a line that carries (or follows a line that carries) the
// comment `layout-check: allowed` is let through; each such line says why.

import { createRequire } from "node:module";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type * as TS from "../tools/node_modules/typescript/lib/typescript.d.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const ts: typeof TS = createRequire(import.meta.url)(
  join(root, "tools/node_modules/typescript"),
);

/** The folders that may name a runtime, relative to the repository. */
const RUNTIME_FOLDERS = ["src/serve", "src/cgi", "src/cli", "src/runtime"];
/** Names that only a runtime gives meaning to, anywhere in code. */
const RUNTIMES = new Set(["Deno", "Bun"]);
const ALLOWED = "layout-check: allowed";

function inRuntimeFolder(path: string): boolean {
  return RUNTIME_FOLDERS.some((folder) => path.startsWith(folder + "/"));
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sources(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** Whether an identifier stands where a property is named, not a value. */
function isPropertyName(node: TS.Identifier): boolean {
  const parent = node.parent;
  return (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
    (ts.isQualifiedName(parent) && parent.right === node) ||
    ((ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) ||
      ts.isPropertyDeclaration(parent) || ts.isMethodDeclaration(parent) ||
      ts.isMethodSignature(parent) || ts.isGetAccessor(parent) ||
      ts.isSetAccessor(parent) || ts.isEnumMember(parent)) &&
      parent.name === node);
}

/** Whether an identifier is the name a declaration gives (a local binding). */
function isDeclaredName(node: TS.Identifier): boolean {
  const parent = node.parent as TS.Node & { name?: TS.Node };
  return (ts.isVariableDeclaration(parent) || ts.isParameter(parent) ||
    ts.isFunctionDeclaration(parent) || ts.isBindingElement(parent) ||
    ts.isImportSpecifier(parent)) && parent.name === node;
}

function check(path: string): string[] {
  const text = readFileSync(join(root, path), "utf8");
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const lines = text.split("\n");
  const findings: string[] = [];
  const report = (node: TS.Node, what: string) => {
    const { line } = source.getLineAndCharacterOfPosition(
      node.getStart(source),
    );
    if (
      lines[line].includes(ALLOWED) ||
      (line > 0 && lines[line - 1].includes(ALLOWED))
    ) return;
    findings.push(`${path}:${line + 1}: ${what}`);
  };
  const visit = (node: TS.Node): void => {
    if (ts.isIdentifier(node)) {
      if (RUNTIMES.has(node.text)) report(node, `names ${node.text}`);
      else if (
        node.text === "process" && !isPropertyName(node) &&
        !isDeclaredName(node)
      ) report(node, "uses the process global");
    } else if (
      ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)
    ) {
      const value = node.text;
      if (value.startsWith("node:")) {
        report(node, `names the Node module ${JSON.stringify(value)}`);
      } else if (RUNTIMES.has(value) || value === "process") {
        report(node, `names ${value} in a string key`);
      } else if (
        /^\.\.?\//.test(value) &&
        (ts.isImportDeclaration(node.parent) ||
          ts.isExportDeclaration(node.parent) ||
          ts.isCallExpression(node.parent) ||
          ts.isLiteralTypeNode(node.parent))
      ) {
        const target = relative(root, resolve(root, dirname(path), value));
        if (inRuntimeFolder(target)) {
          report(node, `imports ${target}, which is runtime code`);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

const files = sources("src").filter((path) => !inRuntimeFolder(path));
const findings = files.flatMap(check);
if (findings.length > 0) {
  console.error(findings.join("\n"));
  console.error(
    `check_layout: ${findings.length} finding(s). Only ${
      RUNTIME_FOLDERS.join(", ")
    } may name a runtime; move the code there or take the value as an option.`,
  );
  process.exit(1);
}
console.log(
  `check_layout: ${files.length} files outside ${
    RUNTIME_FOLDERS.join(", ")
  } name no runtime`,
);
