/**
 * The directory of weft's compile cache (and of the records that let `weft
 * run` start its child early): private to the user, or not used at all.
 *
 * @module
 */

/**
 * Where compiled descriptions are kept: `$WEFT_CACHE_DIR`, else the user's
 * cache directory. A description decides the permissions a run is granted,
 * so the directory is used only when no one else can write to it: it is
 * created private (0700), and an existing one must belong to this user and
 * be writable by no group or other user; otherwise weft says so once and
 * compiles every time.
 */
export function cacheDir(): string | undefined {
  const explicit = Deno.env.get("WEFT_CACHE_DIR");
  const base = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache` : undefined);
  const dir = explicit ? explicit : base === undefined ? undefined : `${base}/weft/compile`;
  if (dir === undefined) return undefined;
  const unsafe = unsafeCacheDir(dir);
  if (unsafe === undefined) return dir;
  if (!warnedCacheDirs.has(dir)) {
    warnedCacheDirs.add(dir);
    console.error(
      `weft: not using the compile cache ${dir}: ${unsafe}; scripts are compiled every time until it is private (chmod 700, owned by you) or WEFT_CACHE_DIR names another directory`,
    );
  }
  return undefined;
}

const warnedCacheDirs = new Set<string>();

/** Why `dir` cannot hold descriptions safely, or undefined when it can (created if missing). */
function unsafeCacheDir(dir: string): string | undefined {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return undefined; // cannot be created: writing will fail quietly, reading finds nothing
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch {
    return undefined;
  }
  if (!info.isDirectory) return "it is not a directory";
  let uid: number | null;
  try {
    uid = Deno.uid();
  } catch {
    uid = null; // started without --allow-sys: the owner cannot be compared
  }
  // (No owner or mode to check where the system has none, as on Windows.)
  if (uid === null || info.uid === null || info.mode === null) return undefined;
  if (info.uid !== uid) return `it belongs to user ${info.uid}, not to you (${uid})`;
  if ((info.mode & 0o022) !== 0) {
    return `other users can write to it (mode ${(info.mode & 0o777).toString(8)})`;
  }
  return undefined;
}
