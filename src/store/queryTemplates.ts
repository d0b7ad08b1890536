// Queries of the sign-in path built once and then only bound: Kysely builds, transforms and compiles
// a query on every call, which costs more than SQLite takes to run a small one.
import type { CompiledQuery } from 'kysely';

/** Stands for the query's i-th argument while the query is built. */
class Argument {
  constructor(readonly index: number) {}
}

interface Template {
  compiled: CompiledQuery;
  /** Per parameter of the SQL: the argument it takes, or the constant the query was built with. */
  slots: (number | { constant: unknown })[];
}

export class QueryTemplates {
  private readonly templates = new Map<string, Template>();

  /** `compiled`: told the SQL of each new template (PostgreSQL keeps it as a prepared statement). */
  constructor(private readonly compiled?: (sql: string) => void) {}

  /**
   * The query `build` makes, bound to `args`. `build` is called once per `name`, with stand-ins for
   * the arguments, so it must use each of them as a value of the query and nothing else (no branch
   * on them, no spreading): the shape of the query is fixed by `name` alone.
   */
  bind<A extends readonly unknown[], R>(name: string, build: (...args: A) => { compile(): CompiledQuery<R> }, args: A): CompiledQuery<R> {
    let template = this.templates.get(name);
    if (!template) {
      template = compileTemplate(name, build as unknown as (...args: unknown[]) => { compile(): CompiledQuery }, args.length);
      this.templates.set(name, template);
      this.compiled?.(template.compiled.sql);
    }
    const parameters = template.slots.map((slot) => (typeof slot === 'number' ? args[slot] : slot.constant));
    return { ...template.compiled, parameters } as CompiledQuery<R>;
  }
}

function compileTemplate(name: string, build: (...args: unknown[]) => { compile(): CompiledQuery }, arity: number): Template {
  const stand = Array.from({ length: arity }, (_, index) => new Argument(index));
  const compiled = build(...stand).compile();
  const used = new Set<number>();
  const slots = compiled.parameters.map((parameter) => {
    if (parameter instanceof Argument) {
      used.add(parameter.index);
      return parameter.index;
    }
    if (parameter !== null && typeof parameter === 'object') throw new Error(`query template ${name}: a parameter that is neither an argument nor a constant`);
    return { constant: parameter };
  });
  // An argument that is not a parameter shaped the query (or was dropped): the template would be wrong for other values.
  if (used.size !== arity) throw new Error(`query template ${name}: each argument must be a value of the query`);
  return { compiled, slots };
}
