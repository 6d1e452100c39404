// deploy/kubernetes/ on paper: no cluster runs here, so every object is validated against the
// Kubernetes OpenAPI schema (kubernetes-models ships it, one validator per kind), and what ties
// the objects together is checked: selectors, ports, probes on the paths regate answers, the
// image's uid, a grace period longer than the drain, and a config.yml regate accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/processes.js';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { validateConfig } from '../../src/config/load-config.js';
import { applyEnvOverrides } from '../../src/config/env-overrides.js';

const FILE = join(REPO_ROOT, 'deploy', 'kubernetes', 'regate.yaml');

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: any };
const objects = parseAllDocuments(readFileSync(FILE, 'utf8')).map((d) => d.toJS() as Obj);
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};
const find = (kind: string, name: string): Obj => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name}`);
  return found;
};

test('every object validates against the Kubernetes OpenAPI schema', () => {
  assert.ok(objects.length >= 7);
  for (const object of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    assert.ok(Model, `no validator for ${object.apiVersion} ${object.kind}`);
    assert.doesNotThrow(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`);
  }
  // The validators do catch mistakes (a port as a name where a number is required):
  const broken = structuredClone(find('Deployment', 'regate'));
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'five thousand';
  assert.throws(() => new Deployment(broken).validate());
});

test('the Deployment: replicas, the image user, probes on the paths regate answers, memory from the benchmarks', () => {
  const deployment = find('Deployment', 'regate');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  assert.ok(deployment.spec.replicas >= 2);
  assert.equal(pod.securityContext.runAsUser, 10001, 'the Dockerfile user');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
  assert.deepEqual(ports, { registry: 5000, debug: 5001 });
  assert.deepEqual(container.livenessProbe.httpGet, { path: '/_ping', port: 'registry', scheme: 'HTTPS' });
  assert.deepEqual(container.readinessProbe.httpGet, { path: '/debug/health', port: 'debug', scheme: 'HTTP' });
  assert.ok(container.resources.requests.memory && container.resources.limits.memory);
  const mounts = Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
  assert.equal(mounts.config, '/etc/docker/registry');
  assert.equal(mounts.tmp, '/tmp', 'regate health reads its ready file there (read-only root)');

  const config = validateConfig(
    applyEnvOverrides(
      parseAllDocuments(find('ConfigMap', 'regate-config').data['config.yml'])[0]!.toJS() as Record<string, unknown>,
      { REGISTRY_STORAGE_SWIFT_PASSWORD: 'from-the-secret' },
    ),
    'configmap',
    '/',
  );
  assert.equal(config.http.port, 5000);
  assert.equal(config.http.debug?.port, 5001);
  assert.equal(config.storage?.driver, 'swift');
  assert.equal(config.storage?.cache?.blobDescriptor, 'redis');
  assert.equal(config.regate.gc.enabled, true);
  assert.equal(config.auth?.htpasswd?.path, `${mounts.htpasswd}/htpasswd`);
  assert.equal(config.http.tls?.certificate, `${mounts.tls}/tls.crt`);
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > config.http.drainTimeoutMs, 'the kill comes after the drain');
  assert.equal(container.env[0].name, 'REGISTRY_STORAGE_SWIFT_PASSWORD');
});

test('the Service and the PodDisruptionBudget select the Deployment\'s pods', () => {
  const labels = find('Deployment', 'regate').spec.template.metadata.labels;
  const matches = (selector: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);
  assert.ok(matches(find('Service', 'regate').spec.selector));
  const pdb = find('PodDisruptionBudget', 'regate');
  assert.ok(matches(pdb.spec.selector.matchLabels));
  assert.ok(pdb.spec.minAvailable < find('Deployment', 'regate').spec.replicas, 'a node drain can proceed');
  const redis = find('Service', 'regate-redis');
  assert.equal(redis.spec.ports[0].port, 6379);
});
