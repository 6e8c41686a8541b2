// deploy.test.mjs - offline checks of the deployment files: compose/ (through
// Debian's docker-compose, no daemon needed), compose/Dockerfile (against the
// binaries actually built and Debian's package names), compose/migrate.sh
// (against tools/tt migrate on the local PostgreSQL, when one answers) and
// k8s/ (every object validated with kubernetes-models, no cluster needed).
//
// Run from the repository root:  node --test tests/deploy/
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const COMPOSE_FILE = path.join(ROOT, "compose/docker-compose.yml");
const DOCKERFILE = path.join(ROOT, "compose/Dockerfile");
const MIGRATE_SH = path.join(ROOT, "compose/migrate.sh");
const K8S_DIR = path.join(ROOT, "k8s");
const GATEWAY_DOC = path.join(ROOT, "docs/realtime-gateway.md");
const NAMESPACE = "tickettoken-analytics";

// The binaries deployed so far, and what each must look like (port: where
// /health/* answers). The aggregator works under an advisory lock: one worker
// and at most one standby. The gateway serves clients on 3008 and its health
// and metrics on 3012.
const BINARIES = {
	ingest: { port: 3010, hpaMin: 2, hpaMax: 10 },
	"query-api": { port: 3007, hpaMin: 2, hpaMax: 20 },
	aggregator: { port: 3011, hpaMin: 1, hpaMax: 2 },
	"realtime-gateway": { port: 3012, hpaMin: 2, hpaMax: 10 },
};
const GATEWAY = "realtime-gateway";
const GATEWAY_WS_PORT = 3008;
const SERVERS = ["postgres", "redis", "rabbitmq"];
const SECRET_KEYS = ["JWT_SECRET", "CUSTOMER_HASH_SALT", "DB_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_URL"];
const RUNTIME_PACKAGES = ["libnng1", "libcivetweb1", "libcjson1", "libjwt0", "libhiredis0.14",
	"librabbitmq4", "libpq5", "libssl3"];

function run(cmd, args, opts = {}) {
	return spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: 120000, ...opts });
}

function have(cmd) {
	return run("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

// Every environment variable that libcommon's configuration reads: a key in
// compose or k8s that is not in this set is a typo the binaries would ignore.
function configVariables() {
	const src = readFileSync(path.join(ROOT, "libcommon/src/config.c"), "utf8");
	return new Set([...src.matchAll(/"([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]));
}

// The gateway's own variables and their defaults, from the configuration
// table of docs/realtime-gateway.md: | `NAME` | default | meaning |.
function gatewayDocDefaults() {
	const doc = readFileSync(GATEWAY_DOC, "utf8");
	const vars = {};
	for (const m of doc.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*`?([^|`]*?)`?\s*\|/gm))
		if (/^(GATEWAY_|WEBSOCKET_PORT$)/.test(m[1]))
			vars[m[1]] = m[2];
	return vars;
}

// ------------------------------------------------------------------ compose

describe("compose/docker-compose.yml", { skip: !have("docker-compose") && "docker-compose not installed" }, () => {
	let config;

	before(() => {
		const r = run("docker-compose", ["-f", COMPOSE_FILE, "config"]);
		assert.equal(r.status, 0, `docker-compose config failed: ${r.stderr}`);
		config = YAML.parse(r.stdout);
	});

	test("docker-compose config -q accepts the file", () => {
		const r = run("docker-compose", ["-f", COMPOSE_FILE, "config", "-q"]);
		assert.equal(r.status, 0, r.stderr);
	});

	test("has the servers, migrate and every binary", () => {
		for (const s of [...SERVERS, "migrate", ...Object.keys(BINARIES)])
			assert.ok(config.services[s], `service ${s} missing`);
		assert.match(config.services.postgres.image, /^postgres:15\b/);
		assert.match(config.services.redis.image, /^redis:7\b/);
		assert.match(config.services.rabbitmq.image, /^rabbitmq:3\.11\b/);
	});

	test("every long-running service has a healthcheck", () => {
		for (const s of [...SERVERS, ...Object.keys(BINARIES)]) {
			const hc = config.services[s].healthcheck;
			assert.ok(hc && !hc.disable, `${s} has no healthcheck`);
			assert.ok(Array.isArray(hc.test) ? hc.test.length > 1 : hc.test, `${s} healthcheck has no test`);
		}
	});

	test("binaries are health-checked on /health/ready of their own port", () => {
		for (const [name, b] of Object.entries(BINARIES)) {
			const t = [].concat(config.services[name].healthcheck.test).join(" ");
			assert.match(t, new RegExp(`localhost:${b.port}/health/ready`), `${name}: ${t}`);
		}
	});

	test("migrate is one-shot psql over migrations/ mounted read-only", () => {
		const m = config.services.migrate;
		assert.match(m.image, /^postgres:15\b/);
		assert.ok(!m.restart || m.restart === "no", "migrate must not restart");
		const vols = (m.volumes || []).map((v) => (typeof v === "string" ? v :
			`${v.source}:${v.target}${v.read_only ? ":ro" : ""}`));
		assert.ok(vols.some((v) => v.startsWith(path.join(ROOT, "migrations") + ":") && v.endsWith(":ro")),
			`migrations/ not mounted read-only: ${vols}`);
		assert.ok(vols.some((v) => v.startsWith(MIGRATE_SH + ":")), "compose/migrate.sh not mounted");
		assert.equal(m.depends_on.postgres.condition, "service_healthy");
	});

	test("ingest can be scaled: no container_name, no host ports", () => {
		const i = config.services.ingest;
		assert.equal(i.container_name, undefined);
		assert.equal(i.ports, undefined, "host ports would clash with --scale ingest=3");
		assert.ok((i.expose || []).map(String).includes("5560"), "nng PUB port not exposed");
	});

	test("ingest waits for healthy servers and a successful migrate", () => {
		const d = config.services.ingest.depends_on;
		for (const s of SERVERS)
			assert.equal(d[s]?.condition, "service_healthy", `ingest depends_on ${s}`);
		assert.equal(d.migrate?.condition, "service_completed_successfully");
	});

	test("every binary gets the configuration it reads", () => {
		const known = configVariables();
		const i = config.services.ingest.environment;
		for (const k of ["DB_HOST", "REDIS_HOST", "RABBITMQ_URL", "JWT_SECRET", "CUSTOMER_HASH_SALT"])
			assert.ok(i[k], `ingest env ${k} missing`);
		assert.equal(i.NNG_PUB_URL, "tcp://0.0.0.0:5560");
		assert.equal(String(i.HEALTH_PORT), "3010");
		const q = config.services["query-api"].environment;
		assert.equal(q.NNG_SUB_URLS, "tcp://ingest:5560");
		assert.ok(config.services["query-api"].ports.some((p) =>
			(typeof p === "string" ? p : `${p.published}:${p.target}`).endsWith(":3007")));
		for (const name of Object.keys(BINARIES))
			for (const k of Object.keys(config.services[name].environment))
				assert.ok(known.has(k), `${name}: ${k} is not read by libcommon/src/config.c`);
	});

	test("every binary runs the one image, chosen by the command, with a 30 s SIGTERM grace", () => {
		const i = config.services.ingest;
		assert.match(i.build.dockerfile, /compose\/Dockerfile$/);
		for (const name of Object.keys(BINARIES)) {
			const s = config.services[name];
			assert.equal(s.image, i.image, name);
			assert.deepEqual(s.build, i.build, name);
			assert.deepEqual(s.command, [name]);
			assert.equal(s.stop_grace_period, "30s", name);
		}
	});

	test("realtime-gateway: clients on 3008, health and metrics on 3012, every ingest replica", () => {
		const g = config.services[GATEWAY];
		const e = g.environment;
		assert.equal(String(e.WEBSOCKET_PORT), String(GATEWAY_WS_PORT));
		assert.equal(String(e.GATEWAY_HEALTH_PORT), String(BINARIES[GATEWAY].port));
		assert.equal(e.NNG_SUB_URLS, config.services["query-api"].environment.NNG_SUB_URLS,
			"the gateway subscribes to ingest like query-api");
		for (const k of ["JWT_SECRET", "REDIS_HOST", "REDIS_PORT", "DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD"])
			assert.ok(e[k], `${GATEWAY} env ${k} missing`);
		assert.ok((g.ports || []).some((p) =>
			(typeof p === "string" ? p : `${p.published}:${p.target}`).endsWith(`:${GATEWAY_WS_PORT}`)),
		`${GATEWAY} does not publish ${GATEWAY_WS_PORT}`);
		assert.ok((g.expose || []).map(String).includes(String(BINARIES[GATEWAY].port)), "health port not exposed");
		const d = g.depends_on;
		for (const s of ["postgres", "redis"])
			assert.equal(d[s]?.condition, "service_healthy", `${GATEWAY} depends_on ${s}`);
		assert.equal(d.migrate?.condition, "service_completed_successfully");
		assert.ok(d.ingest, `${GATEWAY} depends_on ingest`);
	});

	test("realtime-gateway may open more files than it accepts connections", () => {
		const max = Number(config.services[GATEWAY].environment.GATEWAY_MAX_CONNECTIONS ??
			gatewayDocDefaults().GATEWAY_MAX_CONNECTIONS);
		assert.ok(max > 0, "GATEWAY_MAX_CONNECTIONS: no value in compose nor in docs/realtime-gateway.md");
		const n = config.services[GATEWAY].ulimits?.nofile;
		const soft = typeof n === "object" ? n?.soft : n;
		assert.ok(soft > max, `ulimits.nofile (${soft}) must exceed GATEWAY_MAX_CONNECTIONS (${max})`);
	});
});

// --------------------------------------------------------------- Dockerfile

// Stages of a Dockerfile: [{ from, name, lines }], continuation lines joined.
function dockerStages(text) {
	const args = {};
	const stages = [];
	const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())
		.filter((l) => l && !l.startsWith("#"));
	for (const l of lines) {
		const [ins, ...rest] = l.split(/\s+/);
		const arg = rest.join(" ");
		if (ins.toUpperCase() === "ARG" && stages.length === 0) {
			const [k, v] = arg.split("=");
			args[k] = v;
		} else if (ins.toUpperCase() === "FROM") {
			const m = arg.match(/^(\S+)(?:\s+AS\s+(\S+))?/i);
			const from = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a || b] ?? "");
			stages.push({ from, name: m[2], lines: [] });
		} else if (stages.length) {
			stages.at(-1).lines.push(l);
		}
	}
	return stages;
}

function aptPackages(stage) {
	const pkgs = [];
	for (const l of stage.lines) {
		const m = l.match(/apt-get install ([^&;|]*)/);
		if (m)
			pkgs.push(...m[1].split(/\s+/).filter((w) => w && !w.startsWith("-")));
	}
	return pkgs;
}

describe("compose/Dockerfile", () => {
	const stages = dockerStages(readFileSync(DOCKERFILE, "utf8"));
	const build = stages[0], runtime = stages.at(-1);
	const runtimePkgs = aptPackages(runtime);

	test("is multi-stage on debian:bookworm-slim", () => {
		assert.ok(stages.length >= 2, "one stage only");
		for (const s of stages)
			assert.equal(s.from, "debian:bookworm-slim");
	});

	test("builds with cmake --build from the -dev packages", () => {
		const text = build.lines.join("\n");
		assert.match(text, /cmake --build/);
		for (const p of ["cmake", "libnng-dev", "libcivetweb-dev", "libcjson-dev", "libjwt-dev",
			"libhiredis-dev", "librabbitmq-dev", "libpq-dev", "libssl-dev"])
			assert.ok(aptPackages(build).includes(p), `build stage lacks ${p}`);
	});

	test("runtime stage has the runtime libraries and no -dev package or compiler", () => {
		for (const p of RUNTIME_PACKAGES)
			assert.ok(runtimePkgs.includes(p), `runtime stage lacks ${p}`);
		for (const p of runtimePkgs)
			assert.ok(!/-dev$|^build-essential$|^gcc|^cmake$/.test(p), `runtime stage installs ${p}`);
	});

	test("runtime copies every binary and runs as a non-root user", () => {
		const text = runtime.lines.join("\n");
		assert.match(text, /COPY --from=/);
		const buildText = build.lines.join("\n");
		for (const name of Object.keys(BINARIES)) {
			assert.match(buildText, new RegExp(`--target [^&]*\\b${name}\\b`), `${name} not built`);
			assert.match(buildText, new RegExp(`services/${name}/${name}\\b`), `${name} not installed`);
		}
		const user = runtime.lines.filter((l) => /^USER\s/i.test(l)).at(-1);
		assert.ok(user, "no USER in the runtime stage");
		const who = user.split(/\s+/)[1].split(":")[0];
		assert.ok(who !== "root" && who !== "0", `runs as ${who}`);
		const names = Object.keys(BINARIES).join("|");
		assert.ok(!runtime.lines.some((l) => new RegExp(`^ENTRYPOINT\\s.*\\b(${names})\\b`).test(l)),
			"the binary must be chosen by the command, not fixed in ENTRYPOINT");
	});

	const debian = existsSync("/etc/os-release") &&
		/VERSION_CODENAME=bookworm/.test(readFileSync("/etc/os-release", "utf8")) && have("apt-cache");
	test("runtime packages exist in Debian bookworm", { skip: !debian && "not a Debian 12 host" }, () => {
		const all = run("apt-cache", ["show", "--no-all-versions", ...runtimePkgs]);
		if (all.status === 0)
			return;
		for (const p of runtimePkgs) // which one?
			assert.equal(run("apt-cache", ["show", "--no-all-versions", p]).status, 0,
				`apt-cache knows no package ${p}`);
		assert.fail(all.stderr);
	});

	// The shared libraries the built binaries load directly must come from the
	// runtime stage's packages (or libc), else the image would not start.
	const bins = Object.keys(BINARIES).map((n) => path.join(ROOT, "build/services", n, n))
		.filter((b) => existsSync(b));
	const canMap = debian && have("objdump") && have("dpkg") && have("ldconfig");
	test("runtime packages provide every library the built binaries need",
		{ skip: (!canMap && "objdump/dpkg/ldconfig missing") || (bins.length === 0 && "binaries not built") }, () => {
			const cache = run("ldconfig", ["-p"]).stdout;
			const allowed = new Set([...runtimePkgs, "libc6"]);
			for (const bin of bins) {
				const needed = [...run("objdump", ["-p", bin]).stdout.matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1]);
				assert.ok(needed.length > 0, `${bin}: no NEEDED entries`);
				for (const so of needed) {
					const line = cache.split("\n").find((l) => l.trim().startsWith(so + " ") && /x86-64|=>/.test(l));
					assert.ok(line, `${so} not in the ldconfig cache`);
					const r = run("dpkg", ["-S", `*/${so}`]);
					assert.equal(r.status, 0, `no package owns ${so}`);
					const owners = r.stdout.split("\n").filter(Boolean).map((l) => l.split(":")[0]);
					assert.ok(owners.some((o) => allowed.has(o)),
						`${path.basename(bin)} needs ${so} from ${owners.join(",")}, not installed by the runtime stage`);
				}
			}
		});

	test("ships compose/migrate.sh as tt-migrate with the migrations", () => {
		const text = stages.map((s) => s.lines.join("\n")).join("\n");
		assert.match(text, /compose\/migrate\.sh\s+\S*tt-migrate/);
		assert.match(text, /migrations/);
	});
});

// ------------------------------------------------------ compose/migrate.sh

function pgEnv(db) {
	return {
		...process.env,
		DB_HOST: process.env.DB_HOST || "127.0.0.1",
		DB_PORT: process.env.DB_PORT || "5432",
		DB_USER: process.env.DB_USER || "postgres",
		DB_PASSWORD: process.env.DB_PASSWORD || "",
		DB_NAME: db,
	};
}

function psql(db, sql) {
	const e = pgEnv(db);
	const r = run("psql", ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", e.DB_HOST, "-p", e.DB_PORT,
		"-U", e.DB_USER, "-d", db, "-c", sql], { env: { ...e, PGPASSWORD: e.DB_PASSWORD } });
	assert.equal(r.status, 0, `psql ${db}: ${r.stderr}`);
	return r.stdout.trim();
}

const pgUp = have("psql") && have("pg_isready") && (() => {
	const e = pgEnv("postgres");
	return run("pg_isready", ["-q", "-h", e.DB_HOST, "-p", e.DB_PORT, "-t", "3"]).status === 0;
})();

describe("compose/migrate.sh matches tools/tt migrate", { skip: !pgUp && "no PostgreSQL answering (tools/tt stack up)" }, () => {
	const tag = `tt_deploy_${process.pid}`;
	const dbA = `${tag}_sh`, dbB = `${tag}_tt`;
	const migrations = path.join(ROOT, "migrations");
	const files = readdirSync(migrations).filter((f) => f.endsWith(".up.sql")).sort();
	const schema = (db) => psql(db, `SELECT table_name || '.' || column_name || ':' || data_type
		FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1`);
	const applied = (db) => psql(db, "SELECT version || ' ' || name FROM schema_migrations ORDER BY version");
	const migrateSh = (db, dir = migrations) =>
		run("sh", [MIGRATE_SH], { env: { ...pgEnv(db), MIGRATIONS_DIR: dir, MIGRATE_WAIT_SECONDS: "5" } });

	after(() => {
		for (const db of [dbA, dbB])
			psql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
	});

	test("applies every migration once, in order, and records it", () => {
		const r = migrateSh(dbA);
		assert.equal(r.status, 0, r.stderr);
		const order = [...r.stdout.matchAll(/applying (\d{4}_\w+)/g)].map((m) => m[1]);
		assert.deepEqual(order, files.map((f) => f.replace(/\.up\.sql$/, "")));
		assert.deepEqual(applied(dbA).split("\n"), files.map((f) => f.replace(/\.up\.sql$/, "").replace("_", " ")));
	});

	test("a second run applies nothing", () => {
		const r = migrateSh(dbA);
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout, /\(0 applied now\)/);
	});

	test("gives the schema and bookkeeping that tools/tt migrate gives", () => {
		const r = run(path.join(ROOT, "tools/tt"), ["migrate", "latest"], { env: pgEnv(dbB) });
		assert.equal(r.status, 0, r.stderr);
		assert.equal(schema(dbA), schema(dbB));
		assert.equal(applied(dbA), applied(dbB));
		const again = run(path.join(ROOT, "tools/tt"), ["migrate", "latest"], { env: pgEnv(dbA) });
		assert.equal(again.status, 0, again.stderr);
		assert.match(again.stdout + again.stderr, /\(0 applied now\)/);
	});

	test("a failing migration is rolled back and reported", () => {
		const dir = mkdtempSync(path.join(os.tmpdir(), "tt-deploy-mig-"));
		try {
			for (const f of readdirSync(migrations))
				copyFileSync(path.join(migrations, f), path.join(dir, f));
			writeFileSync(path.join(dir, "9999_broken.up.sql"), "CREATE TABLE tt_deploy_half (a int);\nSELECT 1/0;\n");
			writeFileSync(path.join(dir, "9999_broken.down.sql"), "DROP TABLE tt_deploy_half;\n");
			const before = applied(dbA);
			const r = migrateSh(dbA, dir);
			assert.notEqual(r.status, 0);
			assert.match(r.stderr, /migrate: error: /);
			assert.equal(applied(dbA), before);
			assert.equal(psql(dbA, "SELECT to_regclass('tt_deploy_half') IS NULL"), "t");
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

// ---------------------------------------------------------------------- k8s

// Every object of k8s/*.yaml except the kustomization, with its file.
function loadManifests() {
	const objects = [];
	for (const f of readdirSync(K8S_DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
		if (f === "kustomization.yaml")
			continue;
		for (const doc of YAML.parseAllDocuments(readFileSync(path.join(K8S_DIR, f), "utf8"))) {
			assert.equal(doc.errors.length, 0, `${f}: ${doc.errors.join("; ")}`);
			const obj = doc.toJS();
			if (obj)
				objects.push({ file: f, obj });
		}
	}
	return objects;
}

// matchLabels must select the pod labels.
function selects(selector, labels) {
	return Object.entries(selector || {}).length > 0 &&
		Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

describe("k8s manifests", () => {
	const manifests = loadManifests();
	const objs = manifests.map((m) => m.obj);
	const ofKind = (kind) => objs.filter((o) => o.kind === kind);
	const deployments = ofKind("Deployment");
	const deployment = (name) => deployments.find((d) => d.metadata.name === name);
	// What the first container sees: the ConfigMap and Secret it takes in,
	// then its own env.
	const effectiveEnv = (d) => {
		const c = d.spec.template.spec.containers[0];
		const env = {};
		for (const ef of c.envFrom || []) {
			const src = ef.configMapRef ? ofKind("ConfigMap").find((o) => o.metadata.name === ef.configMapRef.name)?.data
				: ofKind("Secret").find((o) => o.metadata.name === ef.secretRef?.name)?.stringData;
			Object.assign(env, src || {});
		}
		for (const e of c.env || [])
			env[e.name] = e.value;
		return env;
	};

	test("every object validates against the Kubernetes schema (kubernetes-models)", async () => {
		assert.ok(objs.length > 0);
		for (const { file, obj } of manifests) {
			assert.ok(obj.apiVersion && obj.kind && obj.metadata?.name, `${file}: apiVersion, kind, metadata.name`);
			let Model;
			try {
				Model = (await import(`kubernetes-models/${obj.apiVersion}/${obj.kind}`))[obj.kind];
			} catch (e) {
				assert.fail(`${file}: no model for ${obj.apiVersion} ${obj.kind}: ${e.message}`);
			}
			assert.doesNotThrow(() => new Model(obj).validate(), `${file}: ${obj.kind}/${obj.metadata.name}`);
		}
	});

	test("everything lives in the namespace tickettoken-analytics", () => {
		assert.equal(ofKind("Namespace").filter((n) => n.metadata.name === NAMESPACE).length, 1);
		for (const o of objs.filter((o) => o.kind !== "Namespace"))
			assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name}`);
	});

	test("kustomization.yaml lists exactly the manifest files", () => {
		const k = YAML.parse(readFileSync(path.join(K8S_DIR, "kustomization.yaml"), "utf8"));
		assert.equal(k.kind, "Kustomization");
		assert.equal(k.namespace, NAMESPACE);
		const files = [...new Set(manifests.map((m) => m.file))].sort();
		assert.deepEqual([...k.resources].sort(), files);
	});

	test("there is a Deployment for each deployed binary", () => {
		assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), Object.keys(BINARIES).sort());
	});

	test("each Deployment's selector matches its pod labels", () => {
		for (const d of deployments)
			assert.ok(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels), d.metadata.name);
	});

	test("each container has startup, liveness and readiness probes on /health/*", () => {
		for (const d of deployments) {
			for (const c of d.spec.template.spec.containers) {
				const ports = new Set((c.ports || []).flatMap((p) => [p.name, p.containerPort]));
				for (const [probe, p] of [["livenessProbe", "/health/live"], ["readinessProbe", "/health/ready"],
					["startupProbe", "/health/live"]]) {
					const pr = c[probe];
					assert.ok(pr?.httpGet, `${d.metadata.name}: ${probe} missing`);
					assert.equal(pr.httpGet.path, p, `${d.metadata.name}: ${probe}`);
					assert.ok(ports.has(pr.httpGet.port), `${d.metadata.name}: ${probe} port ${pr.httpGet.port} not declared`);
				}
				const http = c.ports.find((x) => x.name === c.readinessProbe.httpGet.port || x.containerPort === c.readinessProbe.httpGet.port);
				assert.equal(http.containerPort, BINARIES[d.metadata.name].port);
			}
		}
	});

	test("each container has CPU and memory requests and limits", () => {
		for (const d of deployments)
			for (const c of d.spec.template.spec.containers)
				for (const k of ["requests", "limits"])
					for (const r of ["cpu", "memory"])
						assert.ok(c.resources?.[k]?.[r], `${d.metadata.name}: resources.${k}.${r}`);
	});

	test("pods run non-root with a read-only root filesystem and no privileges", () => {
		for (const o of [...deployments, ...ofKind("Job")]) {
			const pod = o.spec.template.spec;
			for (const c of pod.containers) {
				const sc = c.securityContext || {};
				assert.ok(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, `${o.metadata.name}: runAsNonRoot`);
				assert.ok((sc.runAsUser ?? pod.securityContext?.runAsUser) > 0, `${o.metadata.name}: runAsUser`);
				assert.equal(sc.readOnlyRootFilesystem, true, `${o.metadata.name}: readOnlyRootFilesystem`);
				assert.equal(sc.allowPrivilegeEscalation, false, `${o.metadata.name}: allowPrivilegeEscalation`);
				assert.deepEqual(sc.capabilities?.drop, ["ALL"], `${o.metadata.name}: capabilities`);
			}
		}
	});

	test("Deployments drain on SIGTERM within 30 s and take config from the ConfigMap and Secret", () => {
		const cms = new Set(ofKind("ConfigMap").map((c) => c.metadata.name));
		const secrets = new Set(ofKind("Secret").map((s) => s.metadata.name));
		for (const d of deployments) {
			assert.equal(d.spec.template.spec.terminationGracePeriodSeconds, 30, d.metadata.name);
			for (const c of d.spec.template.spec.containers) {
				const ef = c.envFrom || [];
				assert.ok(ef.some((e) => cms.has(e.configMapRef?.name)), `${d.metadata.name}: envFrom configMapRef`);
				assert.ok(ef.some((e) => secrets.has(e.secretRef?.name)), `${d.metadata.name}: envFrom secretRef`);
				assert.deepEqual(c.args, [d.metadata.name], `${d.metadata.name}: the command picks the binary`);
			}
		}
	});

	test("pods carry Prometheus scrape annotations for a declared port", () => {
		for (const d of deployments) {
			const a = d.spec.template.metadata.annotations || {};
			assert.equal(a["prometheus.io/scrape"], "true", d.metadata.name);
			assert.equal(a["prometheus.io/path"], "/metrics", d.metadata.name);
			const ports = d.spec.template.spec.containers.flatMap((c) => c.ports.map((p) => String(p.containerPort)));
			assert.ok(ports.includes(a["prometheus.io/port"]), `${d.metadata.name}: prometheus.io/port`);
		}
	});

	test("every Deployment has a Service selecting its pods on declared ports", () => {
		for (const d of deployments) {
			const labels = d.spec.template.metadata.labels;
			const svcs = ofKind("Service").filter((s) => selects(s.spec.selector, labels));
			assert.ok(svcs.length > 0, `${d.metadata.name}: no Service`);
			const ports = new Set(d.spec.template.spec.containers.flatMap((c) => c.ports.flatMap((p) => [p.name, p.containerPort])));
			for (const s of svcs)
				for (const p of s.spec.ports)
					assert.ok(ports.has(p.targetPort ?? p.port), `${s.metadata.name}: targetPort ${p.targetPort}`);
		}
	});

	test("query-api has a ClusterIP Service on 3007; ingest-pub is headless on 5560 and 3010", () => {
		const q = ofKind("Service").find((s) => s.metadata.name === "query-api");
		assert.ok(q);
		assert.ok(!q.spec.type || q.spec.type === "ClusterIP");
		assert.notEqual(q.spec.clusterIP, "None");
		assert.deepEqual(q.spec.ports.map((p) => p.port), [3007]);
		const pub = ofKind("Service").find((s) => s.metadata.name === "ingest-pub");
		assert.ok(pub, "no Service ingest-pub");
		assert.equal(pub.spec.clusterIP, "None");
		assert.deepEqual(pub.spec.ports.map((p) => p.port).sort(), [3010, 5560]);
		const ingest = deployments.find((d) => d.metadata.name === "ingest");
		assert.ok(selects(pub.spec.selector, ingest.spec.template.metadata.labels));
	});

	test("every Deployment has a CPU-based autoscaling/v2 HPA with its replica bounds", () => {
		for (const d of deployments) {
			const hpas = ofKind("HorizontalPodAutoscaler").filter((h) =>
				h.spec.scaleTargetRef.kind === "Deployment" && h.spec.scaleTargetRef.name === d.metadata.name);
			assert.equal(hpas.length, 1, `${d.metadata.name}: HPA`);
			const h = hpas[0];
			assert.equal(h.apiVersion, "autoscaling/v2");
			assert.equal(h.spec.scaleTargetRef.apiVersion, "apps/v1");
			assert.equal(h.spec.minReplicas, BINARIES[d.metadata.name].hpaMin);
			assert.equal(h.spec.maxReplicas, BINARIES[d.metadata.name].hpaMax);
			assert.ok(h.spec.metrics.some((m) => m.type === "Resource" && m.resource.name === "cpu"));
		}
	});

	test("every Deployment has a PodDisruptionBudget that keeps a replica up", () => {
		for (const d of deployments) {
			const pdbs = ofKind("PodDisruptionBudget").filter((p) =>
				selects(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
			assert.equal(pdbs.length, 1, `${d.metadata.name}: PDB`);
			const p = pdbs[0].spec;
			assert.ok(p.minAvailable >= 1 || p.maxUnavailable === 1, `${d.metadata.name}: PDB bounds`);
		}
	});

	test("the Secret is a template: secrets only, each marked REPLACE_ME", () => {
		const s = ofKind("Secret");
		assert.equal(s.length, 1);
		const data = s[0].stringData || {};
		for (const k of ["JWT_SECRET", "CUSTOMER_HASH_SALT", "DB_PASSWORD"])
			assert.match(data[k] || "", /REPLACE_ME/, `${k} must be a REPLACE_ME placeholder`);
		for (const [k, v] of Object.entries(data))
			assert.ok(v === "" || /REPLACE_ME/.test(v), `${k} holds a value that looks real`);
		assert.equal(s[0].data, undefined, "no base64 data in the template");
	});

	test("ConfigMap and Secret keys are variables the binaries read; no secret in the ConfigMap", () => {
		const known = configVariables();
		for (const o of [...ofKind("ConfigMap"), ...ofKind("Secret")])
			for (const k of Object.keys(o.data || o.stringData || {}))
				assert.ok(known.has(k), `${o.kind}/${o.metadata.name}: ${k} is not read by libcommon/src/config.c`);
		for (const c of ofKind("ConfigMap"))
			for (const k of SECRET_KEYS)
				assert.ok(!(k in (c.data || {})), `${k} belongs in the Secret`);
	});

	test("subscribers dial the headless Service of the ingest PUB replicas", () => {
		const cm = ofKind("ConfigMap")[0].data;
		assert.match(cm.NNG_SUB_URLS, new RegExp(`^tcp://ingest-pub\\.${NAMESPACE}\\.svc\\.cluster\\.local:5560$`));
		assert.equal(cm.NNG_PUB_URL, "tcp://0.0.0.0:5560");
		for (const name of ["query-api", GATEWAY])
			assert.equal(effectiveEnv(deployment(name)).NNG_SUB_URLS, cm.NNG_SUB_URLS, `${name}: NNG_SUB_URLS`);
	});

	test("Deployment env names are variables the binaries read", () => {
		const known = configVariables();
		for (const d of deployments)
			for (const c of d.spec.template.spec.containers)
				for (const e of c.env || [])
					assert.ok(known.has(e.name), `${d.metadata.name}: ${e.name} is not read by libcommon/src/config.c`);
	});

	test("realtime-gateway listens where its Service and probes point", () => {
		const g = deployment(GATEWAY);
		const c = g.spec.template.spec.containers[0];
		const env = effectiveEnv(g);
		const port = (p) => c.ports.find((x) => x.name === p || x.containerPort === p)?.containerPort;
		assert.equal(Number(env.WEBSOCKET_PORT), GATEWAY_WS_PORT);
		assert.equal(Number(env.GATEWAY_HEALTH_PORT), BINARIES[GATEWAY].port);
		assert.equal(port(c.readinessProbe.httpGet.port), Number(env.GATEWAY_HEALTH_PORT));
		assert.equal(port(c.livenessProbe.httpGet.port), Number(env.GATEWAY_HEALTH_PORT));
		assert.equal(port(c.startupProbe.httpGet.port), Number(env.GATEWAY_HEALTH_PORT));
		assert.equal(g.spec.template.metadata.annotations["prometheus.io/port"], env.GATEWAY_HEALTH_PORT);
		const svc = ofKind("Service").find((s) => s.metadata.name === GATEWAY);
		assert.ok(svc, `no Service ${GATEWAY}`);
		const byPort = Object.fromEntries(svc.spec.ports.map((p) => [p.port, port(p.targetPort ?? p.port)]));
		assert.deepEqual(byPort, { [GATEWAY_WS_PORT]: Number(env.WEBSOCKET_PORT),
			[BINARIES[GATEWAY].port]: Number(env.GATEWAY_HEALTH_PORT) });
	});

	test("realtime-gateway's Service keeps a client on one pod (Engine.IO long-polling)", () => {
		const svc = ofKind("Service").find((s) => s.metadata.name === GATEWAY);
		assert.ok(!svc.spec.type || svc.spec.type === "ClusterIP");
		assert.notEqual(svc.spec.clusterIP, "None");
		assert.equal(svc.spec.sessionAffinity, "ClientIP");
		const t = svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800;
		const doc = gatewayDocDefaults();
		assert.ok(t * 1000 > Number(doc.GATEWAY_PING_INTERVAL_MS) + Number(doc.GATEWAY_PING_TIMEOUT_MS),
			"affinity must outlast a session's ping cycle");
	});

	test("the ConfigMap sets every gateway variable of docs/realtime-gateway.md to its default", () => {
		const doc = gatewayDocDefaults();
		assert.ok(Object.keys(doc).length >= 8, `docs/realtime-gateway.md: table not found (${Object.keys(doc)})`);
		const cm = ofKind("ConfigMap")[0].data;
		for (const [k, v] of Object.entries(doc))
			assert.equal(cm[k], v, `ConfigMap ${k}`);
		for (const k of Object.keys(cm).filter((k) => k.startsWith("GATEWAY_")))
			assert.ok(k in doc, `ConfigMap ${k} is not in docs/realtime-gateway.md`);
	});
});
