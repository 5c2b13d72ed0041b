// The default file access of staticFiles(): node:fs, which Deno, Bun and
// Node all provide, loaded at the first request through a specifier held in
// a variable so that bundlers for Workers (which have no file system) never
// pull it in.

import type { StaticFileSystem } from "../toolkit/static_files.ts";

const NODE_FS_PROMISES: string = "node:fs/promises";
const NODE_FS: string = "node:fs";
// Per read from a file handle: 256 KiB left Deno's discarded arrays for
// the collector (+70 MiB RSS over 1 GiB), 64 KiB cost a third of the speed;
// 128 KiB keeps the raw runtime's speed under 64 MiB (BENCHMARKS.md).
const READ_SIZE = 128 * 1024;

interface NodeFileHandle {
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}
interface NodeFsPromises {
  stat(path: string): Promise<{
    isFile(): boolean;
    isDirectory(): boolean;
    size: number;
    mtimeMs: number;
  }>;
  realpath(path: string): Promise<string>;
  open(path: string, flags: string): Promise<NodeFileHandle>;
}
interface NodeFs {
  openAsBlob?(path: string): Promise<Blob>;
}

/** A stream of `start` to `end` of an open file, one read per pull. */
function fileStream(
  handle: NodeFileHandle,
  start: number,
  end: number,
): ReadableStream<Uint8Array> {
  let position = start;
  let closed = false;
  const close = () => {
    if (closed) return Promise.resolve();
    closed = true;
    return handle.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const want = Math.min(READ_SIZE, end - position);
        if (want <= 0) {
          await close();
          controller.close();
          return;
        }
        // A fresh buffer per read: the chunk is handed on, not copied.
        const buffer = new Uint8Array(want);
        const { bytesRead } = await handle.read(buffer, 0, want, position);
        if (bytesRead === 0) {
          // The file shrank since it was looked at: end early, and the
          // server reports the body as short.
          await close();
          controller.close();
          return;
        }
        position += bytesRead;
        controller.enqueue(
          bytesRead === want ? buffer : buffer.subarray(0, bytesRead),
        );
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    cancel: () => close(),
  }, { highWaterMark: 0 });
}

/**
 * The default file access. `blobs` answers `open` with a file-backed Blob
 * (node:fs `openAsBlob`): a runtime that sends such a Blob from the kernel
 * (sendfile) is fastest that way, but one whose `openAsBlob` reads the
 * whole file into memory must not use it, so the caller decides.
 */
export function nodeFileSystem(blobs: boolean): Promise<StaticFileSystem> {
  // getBuiltinModule, not import(): a bundler or `deno publish` then sees
  // no node: import, and the module still loads only here.
  const process = (globalThis as unknown as {
    process: { getBuiltinModule(id: string): unknown };
  }).process;
  const fsp = process.getBuiltinModule(NODE_FS_PROMISES) as NodeFsPromises;
  const fs = blobs ? process.getBuiltinModule(NODE_FS) as NodeFs : undefined;
  const openAsBlob = fs?.openAsBlob;
  return Promise.resolve({
    async stat(path) {
      try {
        const stat = await fsp.stat(path);
        return {
          isFile: stat.isFile(),
          isDirectory: stat.isDirectory(),
          size: stat.size,
          mtimeMs: stat.mtimeMs,
        };
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (
          code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG"
        ) {
          return undefined;
        }
        throw error;
      }
    },
    realPath: (path) => fsp.realpath(path),
    async open(path, start, end) {
      if (openAsBlob !== undefined) {
        const blob = await openAsBlob(path);
        return start === 0 && end === blob.size ? blob : blob.slice(start, end);
      }
      return fileStream(await fsp.open(path, "r"), start, end);
    },
  });
}
