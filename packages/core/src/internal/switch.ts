// The switch's machinery: its children, turning it off, and `run`'s wait-then-release.
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import * as Data from "effect/Data"
import type { Switch } from "../Switch.js"

export const TypeId: unique symbol = Symbol.for("@effio/core/Switch")

/** Using a switch after its `run` returned. */
export class SwitchFinished extends Data.TaggedError("SwitchFinished")<{ readonly operation: string }> {
  override get message(): string {
    return `Switch.${this.operation}: the switch has finished`
  }
}


type Kind = "body" | "fiber" | "daemon" | "promise"

interface Child {
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  readonly kind: Kind
}

export class SwitchImpl implements Switch<unknown> {
  readonly [TypeId] = { _E: (_: unknown) => {} }
  state: "on" | "off" | "finished" = "on"
  /** Real failures, first one leftmost. */
  failure: Cause.Cause<unknown> | undefined = undefined
  bodyExit: Exit.Exit<unknown, unknown> | undefined = undefined
  readonly children = new Set<Child>()
  readonly daemons = new Set<Child>()

  constructor(
    readonly scope: Scope.CloseableScope,
    readonly owner: FiberId.FiberId,
    readonly done: Deferred.Deferred<void>
  ) {}

  /**
   * Records a failure (interruptions are not failures) and turns the switch off. The fiber
   * `caller`, if it belongs to the switch, is interrupted only once it stops running
   * synchronously, so it may finish its non-blocking clean-up (Eio's `Switch.fail`).
   */
  turnOff(cause: Cause.Cause<unknown>, caller?: FiberId.FiberId): void {
    if (!Cause.isInterruptedOnly(cause)) {
      this.failure = this.failure === undefined ? cause : Cause.parallel(this.failure, cause)
    }
    if (this.state !== "on") return
    this.state = "off"
    const interrupt = (c: Child) => {
      const fiber = c.fiber
      if (fiber === undefined) return
      if (caller !== undefined && Equal.equals(fiber.id(), caller)) {
        queueMicrotask(() => fiber.unsafeInterruptAsFork(this.owner))
      } else fiber.unsafeInterruptAsFork(this.owner)
    }
    this.children.forEach(interrupt)
    this.daemons.forEach(interrupt)
  }

  exited(child: Child, exit: Exit.Exit<unknown, unknown>): void {
    const set = child.kind === "daemon" ? this.daemons : this.children
    set.delete(child)
    if (child.kind === "body") this.bodyExit = exit
    if (child.kind !== "promise" && Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      this.turnOff(exit.cause)
    }
    if (this.children.size === 0) {
      // Only daemons left: they are not waited for.
      for (const d of this.daemons) d.fiber?.unsafeInterruptAsFork(this.owner)
      if (this.daemons.size === 0) Deferred.unsafeDone(this.done, Exit.void)
    }
  }

  /** Starts `effect` as a fiber of this switch (the caller checked the state). */
  start<A, E, R>(
    effect: Effect.Effect<A, E, R>,
    kind: Kind,
    onExit?: (exit: Exit.Exit<A, E>) => void
  ): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R> {
    const child: Child = { fiber: undefined, kind }
    ;(kind === "daemon" ? this.daemons : this.children).add(child)
    return Effect.map(Effect.forkDaemon(effect), (fiber) => {
      child.fiber = fiber as Fiber.RuntimeFiber<unknown, unknown>
      // An observer, not an `onExit` inside the fiber: a fiber interrupted before its first
      // step never runs its own effect, but always notifies its observers.
      fiber.addObserver((exit) => {
        onExit?.(exit)
        this.exited(child, exit as Exit.Exit<unknown, unknown>)
      })
      // Turned off between registration and now: the fiber must not keep running.
      if (this.state === "off") fiber.unsafeInterruptAsFork(this.owner)
      return fiber
    })
  }
}

export const impl = (sw: Switch<any>): SwitchImpl => sw as unknown as SwitchImpl

export const finished = (operation: string) => Effect.fail(new SwitchFinished({ operation }))

export const make = (protect: boolean) =>
<A, E, R, EChild = unknown>(
  body: (sw: Switch<EChild>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | EChild, Exclude<R, Scope.Scope>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const owner = yield* Effect.fiberId
      const scope = yield* Scope.make()
      const sw = new SwitchImpl(scope, owner, yield* Deferred.make<void>())
      const provided = Effect.provideService(
        Effect.suspend(() => body(sw as unknown as Switch<EChild>)),
        Scope.Scope,
        scope
      ) as Effect.Effect<A, E, Exclude<R, Scope.Scope>>
      // The body runs in its own (interruptible) fiber, so turning the switch off can
      // interrupt it like any other fiber of the switch.
      yield* sw.start(Effect.interruptible(provided), "body")
      let interrupted = false
      const waited = yield* Effect.exit(protect ? Deferred.await(sw.done) : restore(Deferred.await(sw.done)))
      if (Exit.isFailure(waited)) {
        // The fiber running `run` was interrupted: cancel everything, still wait for it all.
        interrupted = true
        sw.turnOff(Cause.interrupt(owner))
        yield* Deferred.await(sw.done)
      }
      if (sw.state === "on") sw.state = "off"
      // Release hooks: LIFO, sequential, all of them run; failures combined by the scope.
      const released = yield* Effect.exit(Scope.close(scope, Exit.void))
      sw.state = "finished"
      const hookCause = Exit.isFailure(released) ? released.cause : undefined
      const withHooks = (cause: Cause.Cause<unknown>) =>
        hookCause === undefined ? cause : Cause.sequential(cause, hookCause)
      if (sw.failure !== undefined) return yield* Effect.failCause(withHooks(sw.failure) as Cause.Cause<E | EChild>)
      if (interrupted) return yield* Effect.failCause(withHooks(Cause.interrupt(owner)) as Cause.Cause<E | EChild>)
      const exit = sw.bodyExit as Exit.Exit<A, E>
      if (Exit.isFailure(exit)) return yield* Effect.failCause(withHooks(exit.cause) as Cause.Cause<E | EChild>)
      if (hookCause !== undefined) return yield* Effect.failCause(hookCause as Cause.Cause<E | EChild>)
      return exit.value
    })
  )

