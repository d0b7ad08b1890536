// Queries of the sign-in path built once and then only bound: Kysely builds, transforms and compiles
// a query on every call, which costs more than SQLite takes to run a small one.
import { isDeepStrictEqual } from 'node:util';
import { createQueryId, type CompiledQuery } from 'kysely';

/** Stands for the query's i-th argument while the query is built. */
class Argument {
  constructor(readonly index: number) {}
}

interface Template {
  compiled: CompiledQuery;
  /** Per parameter of the SQL: the argument it takes, or the constant the query was built with. */
  slots: (number | { constant: unknown })[];
}

/** Beyond this many templates (a caller whose column sets vary widely), queries are built as usual. */
const MAX_TEMPLATES = 200;

export interface QueryTemplateOptions {
  /** Told the SQL of each new template (PostgreSQL keeps it as a prepared statement). */
  compiled?: (sql: string) => void;
  /**
   * Also build every query from its real arguments and fail when the template gave anything else
   * (a build that branched on an argument, or dropped an undefined one). On under tests.
   */
  verify?: boolean;
}

export class QueryTemplates {
  private readonly templates = new Map<string, Template>();
  private readonly verify: boolean;

  constructor(private readonly options: QueryTemplateOptions = {}) {
    this.verify = options.verify ?? process.env.NODE_ENV === 'test';
  }

  /**
   * The query `build` makes, bound to `args`. `build` is called once per `name`, with stand-ins for
   * the arguments, so it must use each of them as a value of the query and nothing else (no branch
   * on them, no spreading): the shape of the query is fixed by `name` alone.
   */
  bind<A extends readonly unknown[], R>(name: string, build: (...args: A) => { compile(): CompiledQuery<R> }, args: A): CompiledQuery<R> {
    let template = this.templates.get(name);
    if (!template) {
      if (this.templates.size >= MAX_TEMPLATES) return build(...args).compile();
      template = compileTemplate(name, build as unknown as (...args: unknown[]) => { compile(): CompiledQuery }, args.length);
      this.templates.set(name, template);
      this.options.compiled?.(template.compiled.sql);
    }
    const parameters = template.slots.map((slot) => (typeof slot === 'number' ? args[slot] : slot.constant));
    const bound = { ...template.compiled, parameters, queryId: createQueryId() } as CompiledQuery<R>;
    if (this.verify) {
      const direct = build(...args).compile();
      if (direct.sql !== bound.sql || !isDeepStrictEqual(direct.parameters, bound.parameters)) throw new Error(`query template ${name} differs from the query built from its arguments`);
    }
    return bound;
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
