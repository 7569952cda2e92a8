import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * The part of kustomize (kubectl kustomize, v5) that ops/k8s uses, so the manifests render here
 * without the binary: `resources` (files and directories), `patches` (strategic merge for built-in
 * kinds, JSON merge for custom resources; by the patch's own kind/name or by `target` with kind,
 * name and a label selector), `images` (newName, newTag, digest) and `namespace`. Anything else in a
 * kustomization is an error, so a new feature cannot be used without teaching this renderer.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
};

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

type Target = { kind?: string; name?: string; labelSelector?: string };
type Patch = { path?: string; patch?: string; target?: Target };
type ImageRule = { name: string; newName?: string; newTag?: string; digest?: string };
type Kustomization = {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  patches?: Patch[];
  images?: ImageRule[];
};

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'patches', 'images']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'ClusterSecretStore', 'StorageClass', 'PriorityClass']);
/** Lists merged item by item in a strategic merge patch, and the key that identifies an item. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
};
/** Built-in API groups; anything else is a custom resource and gets a JSON merge patch (as kustomize does). */
const BUILT_IN = /^(v1|apps\/v1|batch\/v1|autoscaling\/v2|policy\/v1|networking\.k8s\.io\/v1|rbac\.authorization\.k8s\.io\/v1)$/;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function readYamlDocs(file: string): JsonObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      const [error] = d.errors;
      if (error) throw new Error(`${file}: ${error.message}`);
      return d.toJSON() as unknown;
    })
    .filter((d): d is JsonObject => isObject(d));
}

function readKustomization(dir: string): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const [k] = readYamlDocs(file);
  if (!k) throw new Error(`${file}: empty kustomization.yaml`);
  for (const key of Object.keys(k)) if (!KNOWN_FIELDS.has(key)) throw new Error(`${file}: "${key}" is not supported by this renderer`);
  return k;
}

/** Strategic merge patch (the subset kustomize applies to built-in kinds): maps merge, keyed lists merge by key, other lists are replaced, null deletes. */
export function strategicMerge(base: Json, patch: Json, field = ''): Json {
  if (isObject(base) && isObject(patch)) {
    const out: JsonObject = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else {
        const prev = base[k];
        out[k] = prev !== undefined ? strategicMerge(prev, v, k) : v;
      }
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch)) {
    const key = field === 'ports' ? portKey(base) : MERGE_KEYS[field];
    if (!key) return patch;
    const out = [...base];
    for (const item of patch) {
      const at = isObject(item) ? out.findIndex((b) => isObject(b) && b[key] === item[key]) : -1;
      const prev = at >= 0 ? out[at] : undefined;
      if (prev !== undefined) out[at] = strategicMerge(prev, item, '');
      else out.push(item);
    }
    return out;
  }
  return patch;
}

/** Container ports merge by containerPort, service ports by port. */
function portKey(list: Json[]): string {
  return list.some((p) => isObject(p) && 'containerPort' in p) ? 'containerPort' : 'port';
}

/** RFC 7386 JSON merge patch: what kustomize applies to custom resources. */
export function jsonMerge(base: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(base) ? { ...base } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = jsonMerge(out[k] ?? null, v);
  }
  return out;
}

/** Kubernetes label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-separated. */
export function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  const terms = selector.match(/[^,()]+(\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const t = raw.trim();
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    if (set) {
      const [, key = '', op, list = ''] = set;
      const values = list.split(',').map((v) => v.trim());
      const value = labels[key];
      const has = value !== undefined && values.includes(value);
      return op === 'in' ? has : !has;
    }
    const eq = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(t);
    if (eq) {
      const [, key = '', op, value] = eq;
      return op === '!=' ? labels[key] !== value : labels[key] === value;
    }
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

function targets(obj: K8sObject, target: Target): boolean {
  if (target.kind && target.kind !== obj.kind) return false;
  if (target.name && !new RegExp(`^(?:${target.name})$`).test(obj.metadata.name)) return false;
  if (target.labelSelector && !matchesSelector(obj.metadata.labels ?? {}, target.labelSelector)) return false;
  return true;
}

function applyPatch(objects: K8sObject[], dir: string, p: Patch): K8sObject[] {
  const docs = p.path ? readYamlDocs(resolve(dir, p.path)) : parseAllDocuments(p.patch ?? '').map((d) => d.toJSON() as JsonObject);
  let out = objects;
  for (const doc of docs) {
    const patch = doc as unknown as K8sObject;
    let hits = 0;
    out = out.map((obj) => {
      const selected = p.target ? targets(obj, p.target) : obj.kind === patch.kind && obj.metadata.name === patch.metadata.name;
      if (!selected) return obj;
      hits += 1;
      // The patch's own name only finds its target; it never renames it.
      const body = { ...clone<JsonObject>(doc), metadata: { ...(doc.metadata as JsonObject), name: obj.metadata.name } };
      const merged = BUILT_IN.test(obj.apiVersion) ? strategicMerge(obj as unknown as Json, body) : jsonMerge(obj as unknown as Json, body);
      return merged as unknown as K8sObject;
    });
    if (hits === 0) throw new Error(`${dir}: patch ${p.path ?? JSON.stringify(p.target)} matched nothing`);
  }
  return out;
}

function podSpecs(obj: K8sObject): JsonObject[] {
  const spec = obj.spec;
  if (!isObject(spec)) return [];
  if (obj.kind === 'Pod') return [spec];
  const template = spec.template;
  if (isObject(template) && isObject(template.spec)) return [template.spec];
  const jobTemplate = spec.jobTemplate;
  if (isObject(jobTemplate) && isObject(jobTemplate.spec) && isObject(jobTemplate.spec.template) && isObject(jobTemplate.spec.template.spec)) {
    return [jobTemplate.spec.template.spec];
  }
  return [];
}

/** Splits `name[:tag][@digest]` (a registry port is part of the name). */
function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest = '', digest] = image.split('@');
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  return colon > slash ? { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest } : { name: rest, digest };
}

function applyImages(objects: K8sObject[], rules: ImageRule[]): void {
  for (const obj of objects) {
    for (const pod of podSpecs(obj)) {
      for (const field of ['containers', 'initContainers']) {
        const list = pod[field];
        if (!Array.isArray(list)) continue;
        for (const c of list) {
          if (!isObject(c) || typeof c.image !== 'string') continue;
          const img = splitImage(c.image);
          const rule = rules.find((r) => r.name === img.name);
          if (!rule) continue;
          const name = rule.newName ?? img.name;
          if (rule.digest) c.image = `${name}@${rule.digest}`;
          else if (rule.newTag) c.image = `${name}:${rule.newTag}`;
          else c.image = `${name}${img.tag ? `:${img.tag}` : ''}${img.digest ? `@${img.digest}` : ''}`;
        }
      }
    }
  }
}

/** Renders the kustomization in `dir` (like `kubectl kustomize dir`), objects in resource order. */
export function kustomize(dir: string): K8sObject[] {
  const k = readKustomization(dir);
  let objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = resolve(dir, r);
    const loaded = statSync(path).isDirectory() ? kustomize(path) : (readYamlDocs(path) as unknown as K8sObject[]);
    objects.push(...loaded);
  }
  objects = clone(objects);
  for (const p of k.patches ?? []) objects = applyPatch(objects, dir, p);
  if (k.images) applyImages(objects, k.images);
  if (k.namespace) {
    for (const obj of objects) if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata.namespace = k.namespace;
  }
  return objects;
}

export const repoPath = (...parts: string[]): string => join(dirname(dirname(__dirname)), ...parts);
