// The numbers of WASI preview 1 (wasi_snapshot_preview1.witx) this implementation uses:
// errno values, rights, file types and flag bits, and the error thrown to answer an errno.

/** Error numbers (`errno`). */
export const ERRNO = Object.freeze({
  SUCCESS: 0,
  BADF: 8,
  BUSY: 10,
  EXIST: 20,
  FBIG: 22,
  ILSEQ: 25,
  INTR: 27,
  INVAL: 28,
  ISDIR: 31,
  LOOP: 32,
  NAMETOOLONG: 37,
  NOENT: 44,
  NOSPC: 51,
  NOTDIR: 54,
  NOTEMPTY: 55,
  NOTSOCK: 57,
  NOTSUP: 58,
  PERM: 63,
  SPIPE: 70,
});

/** Thrown inside the implementation to make the current call answer `errno`. */
export class WasiError extends Error {
  constructor(errno) {
    super(`WASI errno ${errno}`);
    this.errno = errno;
  }
}

/** Throws a WasiError for `errno`. */
export function fail(errno) {
  throw new WasiError(errno);
}

/** Rights bits (`rights`, a u64). */
export const RIGHTS = Object.freeze({
  FD_DATASYNC: 1n << 0n,
  FD_READ: 1n << 1n,
  FD_SEEK: 1n << 2n,
  FD_FDSTAT_SET_FLAGS: 1n << 3n,
  FD_SYNC: 1n << 4n,
  FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n,
  FD_ADVISE: 1n << 7n,
  FD_ALLOCATE: 1n << 8n,
  PATH_CREATE_DIRECTORY: 1n << 9n,
  PATH_CREATE_FILE: 1n << 10n,
  PATH_LINK_SOURCE: 1n << 11n,
  PATH_LINK_TARGET: 1n << 12n,
  PATH_OPEN: 1n << 13n,
  FD_READDIR: 1n << 14n,
  PATH_READLINK: 1n << 15n,
  PATH_RENAME_SOURCE: 1n << 16n,
  PATH_RENAME_TARGET: 1n << 17n,
  PATH_FILESTAT_GET: 1n << 18n,
  PATH_FILESTAT_SET_SIZE: 1n << 19n,
  PATH_FILESTAT_SET_TIMES: 1n << 20n,
  FD_FILESTAT_GET: 1n << 21n,
  FD_FILESTAT_SET_SIZE: 1n << 22n,
  FD_FILESTAT_SET_TIMES: 1n << 23n,
  PATH_SYMLINK: 1n << 24n,
  PATH_REMOVE_DIRECTORY: 1n << 25n,
  PATH_UNLINK_FILE: 1n << 26n,
  POLL_FD_READWRITE: 1n << 27n,
});

/** Every right there is. */
export const ALL_RIGHTS = (1n << 30n) - 1n;

/** File types (`filetype`). */
export const FILETYPE = Object.freeze({ UNKNOWN: 0, DIRECTORY: 3, REGULAR_FILE: 4, SYMBOLIC_LINK: 7 });

/** Descriptor flags (`fdflags`). */
export const FDFLAGS = Object.freeze({ APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16, ALL: 31 });

/** Open flags (`oflags`). */
export const OFLAGS = Object.freeze({ CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8, ALL: 15 });

/** Lookup flags (`lookupflags`). */
export const LOOKUP_SYMLINK_FOLLOW = 1;

/** Which timestamps to set (`fstflags`). */
export const FSTFLAGS = Object.freeze({ ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8, ALL: 15 });

/** `whence` of fd_seek. */
export const WHENCE = Object.freeze({ SET: 0, CUR: 1, END: 2 });

/** Clock ids (`clockid`). */
export const CLOCK = Object.freeze({ REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME: 2, THREAD_CPUTIME: 3 });

/** Event types of poll_oneoff. */
export const EVENTTYPE = Object.freeze({ CLOCK: 0, FD_READ: 1, FD_WRITE: 2 });

/** `subclockflags`: the timeout is an absolute time. */
export const SUBSCRIPTION_CLOCK_ABSTIME = 1;

/** `eventrwflags`: the peer hung up (a file read at its end). */
export const EVENT_FD_READWRITE_HANGUP = 1;

/** Largest `advice` value. */
export const ADVICE_MAX = 5;

/** `riflags` and `sdflags` bits that exist. */
export const RIFLAGS_ALL = 3;
export const SDFLAGS_ALL = 3;
