import {
  AliasNode,
  CamelCasePlugin,
  ColumnNode,
  type IdentifierNode,
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  RawNode,
  ReferenceNode,
  type RootOperationNode,
  SelectAllNode,
  SelectionNode,
  type SelectQueryNode,
  TableNode,
  type UnknownRow,
} from 'kysely';

/** Kysely's CamelCasePlugin mapping (`callLegId` → `call_leg_id`), exposed for names in raw SQL. */
class SnakeCaseNames extends CamelCasePlugin {
  of(field: string): string {
    return this.snakeCase(field);
  }
}
const snakeCaseNames = new SnakeCaseNames();

/** The on-disk (snake_case) name of a column named by its record field. */
export function columnName(field: string): string {
  return snakeCaseNames.of(field);
}

/**
 * Kysely's `CamelCasePlugin` naming without its per-row cost. Queries name tables and columns by
 * the records' camelCase fields and the SQL uses the snake_case names on disk, exactly as with
 * `CamelCasePlugin` (same mapping function). But `CamelCasePlugin` renames every key of every row
 * read, which cost a tenth of a record listing's CPU; here the database does it: each selected
 * column is aliased to its field name in the SQL (`"call_leg_id" as "callLegId"`), so rows arrive
 * camelCase and need no mapping.
 *
 * `selectAll()` from a table given to the constructor becomes that table's whole aliased column
 * list, prepared once: hot listings pay for neither building nor transforming eighteen column
 * nodes per query. `selectAll()` from any other table is refused (`*` cannot be aliased), and raw
 * SQL aliases its columns by hand.
 */
export class CamelCaseColumnsPlugin implements KyselyPlugin {
  readonly #transformer: CamelCaseColumnsTransformer;

  /** `columnsByTable`: each table's columns, by field name, for `selectAll()`. */
  constructor(columnsByTable: Readonly<Record<string, readonly string[]>>) {
    this.#transformer = new CamelCaseColumnsTransformer(columnsByTable);
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node, args.queryId);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

class CamelCaseColumnsTransformer extends OperationNodeTransformer {
  readonly #allColumns: ReadonlyMap<string, SelectionNode>;

  constructor(columnsByTable: Readonly<Record<string, readonly string[]>>) {
    super();
    this.#allColumns = new Map(
      Object.entries(columnsByTable).map(([table, fields]) => [table, allColumnsSelection(fields)]),
    );
  }

  protected override transformSelectQuery(node: SelectQueryNode, queryId?: QueryId): SelectQueryNode {
    const [only, ...others] = node.selections ?? [];
    const from = node.from?.froms;
    if (only && others.length === 0 && SelectAllNode.is(only.selection)) {
      const table = from?.length === 1 && TableNode.is(from[0]!) ? from[0].table.identifier.name : undefined;
      const selection = table === undefined ? undefined : this.#allColumns.get(table);
      if (!selection) throw new Error(`selectAll() from ${table ?? 'a join'}: name the columns instead`);
      return super.transformSelectQuery({ ...node, selections: [selection] }, queryId);
    }
    return super.transformSelectQuery(node, queryId);
  }

  protected override transformIdentifier(node: IdentifierNode, queryId?: QueryId): IdentifierNode {
    const transformed = super.transformIdentifier(node, queryId);
    return { ...transformed, name: columnName(transformed.name) };
  }

  protected override transformSelection(node: SelectionNode, queryId?: QueryId): SelectionNode {
    const { selection } = node;
    if (ReferenceNode.is(selection) && ColumnNode.is(selection.column)) {
      const field = selection.column.column.name;
      if (columnName(field) !== field) {
        // The alias is raw SQL so that the identifier mapping above leaves it camelCase.
        const aliased = AliasNode.create(selection, RawNode.createWithSql(`"${field}"`));
        return super.transformSelection(SelectionNode.create(aliased), queryId);
      }
    }
    return super.transformSelection(node, queryId);
  }
}

/**
 * A table's whole column list as one selection: `"event_id" as "eventId", …, "modified_ms" as
 * "modifiedMs"`. Kysely's selection types take an alias node, not a raw list, so the list is the
 * aliased "expression" and the last field its alias; it holds no identifier nodes, so the
 * transformer passes it through unchanged.
 */
function allColumnsSelection(fields: readonly string[]): SelectionNode {
  const last = fields.at(-1);
  if (last === undefined) throw new Error('a table without columns');
  const list = fields.map((field) => `"${columnName(field)}" as "${field}"`);
  const head = [...list.slice(0, -1), `"${columnName(last)}"`].join(', ');
  return SelectionNode.create(
    AliasNode.create(RawNode.createWithSql(head), RawNode.createWithSql(`"${last}"`)),
  );
}
