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
 * The services that depend on `tag`, directly or through others, in the config's order: the
 * ones a dependency's alert lists as affected.
 */
export function dependentsOf(services: Readonly<Record<string, { readonly depends_on: readonly string[] }>>, tag: string): string[] {
  const affected = new Set<string>([tag]);
  // Fixed point over the (acyclic, checked) graph: at most one pass per level of depth.
  for (let grew = true; grew;) {
    grew = false;
    for (const [name, service] of Object.entries(services)) {
      if (affected.has(name)) continue;
      if (service.depends_on.some((dependency) => affected.has(dependency))) {
        affected.add(name);
        grew = true;
      }
    }
  }
  affected.delete(tag);
  return [...affected];
}

function listOf(names: string[]): string {
  const shown = names.slice(0, 5).map((name) => JSON.stringify(name));
  if (names.length > 5) shown.push('…');
  return shown.join(', ');
}
