import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  execute,
  parseType,
  visit,
  type ArgumentNode,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLFieldResolver,
  type GraphQLFormattedError,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type SelectionNode,
  type SelectionSetNode,
  type VariableDefinitionNode,
} from 'graphql';
import { Counter } from 'prom-client';
import { registry } from '../../lib/metrics';
import type { EventValue, FollowUp, SubscriptionSource } from './sources';

const followUps = new Counter({
  name: 'abt_gateway_subscription_follow_ups_total',
  help: 'Queries the gateway ran to resolve subscription fields an event does not carry, by type and field',
  labelNames: ['type', 'field'] as const,
  registers: [registry],
});

/** Runs a query through the gateway's own execution (query planning, subgraphs) with a caller's credential. */
export type QueryRunner = (
  document: DocumentNode,
  variables: Record<string, unknown>,
  authorization: string | undefined,
) => Promise<{ data?: Record<string, unknown> | null; errors?: readonly GraphQLFormattedError[] }>;

/** One prepared subscription operation, executed once per event for everyone who shares it. */
export type EventOperation = {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName: string | undefined;
  variables: Record<string, unknown>;
  rootField: string;
  source: SubscriptionSource;
};

type EventContext = { authorization: string | undefined; runQuery: QueryRunner; source: SubscriptionSource };

/** Objects a follow-up query answered: keyed by response key (alias), not by field name. */
const fromQuery = new WeakSet<object>();
/** Objects built from the event: the only ones whose missing fields may be followed up. */
const fromEvent = new WeakSet<object>();

function markAnswered(v: unknown): void {
  if (Array.isArray(v)) v.forEach(markAnswered);
  else if (isRecord(v)) {
    fromQuery.add(v);
    Object.values(v).forEach(markAnswered);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * Executes the subscriber's selection against the supergraph's API schema with the event as the
 * root field's value. Fields the event carries come from it; fields it lacks are resolved by a
 * follow-up query through the gateway (see followUpDocument), once per execution.
 */
export function executeForEvent(
  op: EventOperation,
  value: EventValue,
  authorization: string | undefined,
  runQuery: QueryRunner,
): Promise<ExecutionResult> {
  const root = { [op.rootField]: value };
  fromEvent.add(root);
  fromEvent.add(value);
  const contextValue: EventContext = { authorization, runQuery, source: op.source };
  return Promise.resolve(
    execute({
      schema: op.schema,
      document: op.document,
      operationName: op.operationName,
      variableValues: op.variables,
      rootValue: root,
      contextValue,
      fieldResolver,
    }),
  );
}

const fieldResolver: GraphQLFieldResolver<unknown, EventContext> = (source, _args, ctx, info) => {
  if (!isRecord(source)) return undefined;
  if (fromQuery.has(source)) return source[String(info.path.key)];
  if (Object.hasOwn(source, info.fieldName) || !fromEvent.has(source)) return source[info.fieldName];
  const followUp = ctx.source.followUps?.[info.parentType.name]?.[info.fieldName];
  return followUp ? resolveFollowUp(followUp, source, ctx, info) : undefined;
};

async function resolveFollowUp(f: FollowUp, value: EventValue, ctx: EventContext, info: GraphQLResolveInfo): Promise<unknown> {
  const args = f.args(value);
  if (!args) return null;
  const { document, usedVariables } = followUpDocument(info, f.rootField, Object.keys(args).sort());
  const variables: Record<string, unknown> = {};
  for (const name of usedVariables) variables[name] = info.variableValues[name];
  for (const [name, v] of Object.entries(args)) variables[argVariable(name)] = v;
  followUps.inc({ type: info.parentType.name, field: info.fieldName });
  const res = await ctx.runQuery(document, variables, ctx.authorization);
  const first = res.errors?.[0];
  if (first) throw new GraphQLError(first.message, { extensions: first.extensions });
  const answer = res.data?.[f.rootField] ?? null;
  markAnswered(answer);
  return answer;
}

const argVariable = (arg: string): string => `followUp_${arg}`;
const name = (value: string) => ({ kind: Kind.NAME, value }) as const;
const TYPENAME: FieldNode = { kind: Kind.FIELD, name: name('__typename') };

type FollowUpDocument = { document: DocumentNode; usedVariables: string[] };
const documents = new WeakMap<FieldNode, Map<string, FollowUpDocument>>();

/**
 * `query { <rootField>(arg: $followUp_arg…) { …the selection under the event field… } }` with the
 * fragments and variables that selection uses, and `__typename` in every selection set (so the
 * outer execution can resolve abstract types). Built once per operation and field.
 */
export function followUpDocument(info: GraphQLResolveInfo, rootField: string, argNames: string[]): FollowUpDocument {
  const cacheKey = `${rootField}(${argNames.join(',')})`;
  const [fieldNode] = info.fieldNodes;
  if (!fieldNode) throw new Error(`followUpDocument(${rootField}): the resolve info has no field node`);
  let perField = documents.get(fieldNode);
  const hit = perField?.get(cacheKey);
  if (hit) return hit;

  const field = info.schema.getQueryType()?.getFields()[rootField];
  if (!field) throw new Error(`follow-up query field Query.${rootField} is not in the supergraph`);
  const selections: SelectionNode[] = info.fieldNodes.flatMap((n) => n.selectionSet?.selections ?? []);

  const fragments = new Map<string, FragmentDefinitionNode>();
  const variables = new Set<string>();
  const scan = (node: SelectionSetNode | FragmentDefinitionNode): void => {
    visit(node, {
      Variable: (v) => void variables.add(v.name.value),
      FragmentSpread: (s) => {
        const def = info.fragments[s.name.value];
        if (def && !fragments.has(s.name.value)) {
          fragments.set(s.name.value, def);
          scan(def);
        }
      },
    });
  };
  scan({ kind: Kind.SELECTION_SET, selections });

  const ours: VariableDefinitionNode[] = argNames.map((arg) => {
    const def = field.args.find((a) => a.name === arg);
    if (!def) throw new Error(`Query.${rootField} has no argument ${arg}`);
    return { kind: Kind.VARIABLE_DEFINITION, variable: { kind: Kind.VARIABLE, name: name(argVariable(arg)) }, type: parseType(String(def.type)) };
  });
  const theirs = (info.operation.variableDefinitions ?? []).filter((d) => variables.has(d.variable.name.value));
  const args: ArgumentNode[] = argNames.map((arg) => ({
    kind: Kind.ARGUMENT,
    name: name(arg),
    value: { kind: Kind.VARIABLE, name: name(argVariable(arg)) },
  }));
  const withTypename = <T extends SelectionSetNode | FragmentDefinitionNode>(node: T): T =>
    visit(node, {
      SelectionSet: (set) => (set.selections.some((s) => s.kind === Kind.FIELD && !s.alias && s.name.value === '__typename') ? undefined : { ...set, selections: [TYPENAME, ...set.selections] }),
    });

  const document: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: OperationTypeNode.QUERY,
        name: name(`${info.parentType.name}_${info.fieldName}`),
        variableDefinitions: [...ours, ...theirs],
        selectionSet: {
          kind: Kind.SELECTION_SET,
          selections: [{ kind: Kind.FIELD, name: name(rootField), arguments: args, selectionSet: withTypename({ kind: Kind.SELECTION_SET, selections }) }],
        },
      },
      ...[...fragments.values()].map(withTypename),
    ],
  };
  const built = { document, usedVariables: theirs.map((d) => d.variable.name.value) };
  if (!perField) {
    perField = new Map();
    documents.set(fieldNode, perField);
  }
  perField.set(cacheKey, built);
  return built;
}
