import type { OptionReader } from '../util/validate';

/**
 * Checks every service's `depends_on` against the others: each name must be a configured
 * service other than itself, and no chain may come back to where it started. Called once the
 * whole `services` map is read, so the order of services in the config does not matter.
 */
export function checkDependencies(read: OptionReader, dependsOn: ReadonlyMap<string, readonly string[]>): void {
  for (const [tag, names] of dependsOn) {
    for (const [index, name] of names.entries()) {
      const key = `services.${tag}.depends_on[${index}]`;
      if (name === tag) read.fail(key, name, 'another service: a service cannot depend on itself');
      if (!dependsOn.has(name)) read.fail(key, name, `the name of a service listed in services (one of ${listOf([...dependsOn.keys()])})`);
    }
  }
  const cycle = findCycle(dependsOn);
  if (cycle) read.fail(`services.${cycle[0]}.depends_on`, cycle.join(' -> '), 'dependencies without a cycle: remove one of these links');
}

/** A chain of `depends_on` that comes back to its start, as [a, b, …, a], or null if there is none. */
function findCycle(dependsOn: ReadonlyMap<string, readonly string[]>): string[] | null {
  const DONE = 2;
  const state = new Map<string, number>();
  const path: string[] = [];
  // Iterative depth-first search: a config of thousands of services must not overflow the stack.
  for (const root of dependsOn.keys()) {
    if (state.get(root) === DONE) continue;
    const stack: Array<{ tag: string; next: number }> = [{ tag: root, next: 0 }];
    state.set(root, 1);
    path.push(root);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { tag: string; next: number };
      const names = dependsOn.get(frame.tag) ?? [];
      if (frame.next >= names.length) {
        state.set(frame.tag, DONE);
        stack.pop();
        path.pop();
        continue;
      }
      const name = names[frame.next++] as string;
      const seen = state.get(name);
      if (seen === 1) return [...path.slice(path.indexOf(name)), name];
      if (seen === DONE) continue;
      state.set(name, 1);
      path.push(name);
      stack.push({ tag: name, next: 0 });
    }
  }
  return null;
}

/**
 * Who depends on whom, read once from the config: for each service, the services that depend
 * on it directly, and (found on demand, then kept) transitively. Built in one pass over the
 * config, so asking for every service's dependents costs the size of the graph, not its square.
 */
export class DependencyGraph {
  /** Direct dependents by dependency, in the config's order. */
  private readonly direct = new Map<string, string[]>();
  private readonly transitive = new Map<string, readonly string[]>();
  private readonly order = new Map<string, number>();

  constructor(services: Readonly<Record<string, { readonly depends_on: readonly string[] }>>) {
    let position = 0;
    for (const [name, service] of Object.entries(services)) {
      this.order.set(name, position++);
      for (const dependency of service.depends_on) {
        let list = this.direct.get(dependency);
        if (list === undefined) this.direct.set(dependency, (list = []));
        list.push(name);
      }
    }
  }

  /** The services that depend on `tag`, directly or through others, in the config's order. */
  dependentsOf(tag: string): readonly string[] {
    if (!this.direct.has(tag)) return NONE;
    let found = this.transitive.get(tag);
    if (found === undefined) {
      const seen = new Set<string>();
      const queue = [tag];
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        for (const dependent of this.direct.get(next) ?? NONE) {
          if (seen.has(dependent) || dependent === tag) continue;
          seen.add(dependent);
          queue.push(dependent);
        }
      }
      found = [...seen].sort((a, b) => (this.order.get(a) ?? 0) - (this.order.get(b) ?? 0));
      this.transitive.set(tag, found);
    }
    return found;
  }
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * The services that depend on `tag`, directly or through others, in the config's order: the
 * ones a dependency's alert lists as affected. For many tags, build one {@link DependencyGraph}.
 */
export function dependentsOf(services: Readonly<Record<string, { readonly depends_on: readonly string[] }>>, tag: string): string[] {
  return [...new DependencyGraph(services).dependentsOf(tag)];
}

function listOf(names: string[]): string {
  const shown = names.slice(0, 5).map((name) => JSON.stringify(name));
  if (names.length > 5) shown.push('…');
  return shown.join(', ');
}
