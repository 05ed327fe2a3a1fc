/**
 * Absolute path of `effio-seccomp-deny`, a helper executable built with the addon on Linux:
 * `effio-seccomp-deny <command> [args...]` runs the command with `io_uring_setup` denied
 * (EPERM) by a seccomp filter. `undefined` when it was not built (non-Linux, failed build).
 */
export declare const seccompDenyPath: string | undefined
