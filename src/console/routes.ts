/**
 * The console, served by the HTTP API process at `/`: pages rendered on the server from the API's own
 * representations and the workflows' state, with the same tokens and roles (the token is kept in an HttpOnly,
 * SameSite=Strict cookie once signed in). It reads through the API's routes (in-process, `app.inject`, with the user's
 * token) or the same state queries they use, and makes every decision through the API's routes, which check the
 * roles and sign the decision for the user: the console holds no state and no rule of its own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiTokens, ApiUser } from '../api/auth';
import type { KeeperState } from '../shared/keeper';
import { isAllowed } from '../api/auth';
import { StagecoachError } from '../client/errors';
import type { Stagecoach } from '../client/operations';
import { ClientFailure } from '../shared/errors';
import { PIPELINE_ID_PATTERN } from '../shared/ids';
import { isTerminal } from '../shared/types';
import { apiCallFor } from './actions';
import { executionBody, executionSections, type ExecutionView } from './execution-view';
import { keeperBody, keepersSection } from './keeper-page';
import { INSIGHTS_METRICS, insightsBody, type InsightsPoint } from './insights-page';
import { CLIENT_SCRIPT, SCRIPT_PATH, html, page, type PageFrame } from './html';
import { logBody, pipelineBody, pipelinesBody, problemBody, signInBody, type ExecutionRow, type PipelineRow } from './pages';
import { consolePaths } from './paths';

export interface ConsoleOptions {
  stagecoach: Stagecoach;
  tokens: ApiTokens;
  /** Base URL of the Temporal Web UI (STAGECOACH_WEB_UI, default http://127.0.0.1:8233). */
  webUi?: string;
}

const SESSION_COOKIE = 'stagecoach_console';
const NOTICE_COOKIE = 'stagecoach_notice';
/** How often the server reads an execution's state for its live page; the browser itself never polls. */
const WATCH_INTERVAL_MS = 1000;
const PROGRAM = '/api/program/1';
/** The environments that may have a keeper (one each). */
const KEEPER_ENVIRONMENTS = ['stage', 'prod'] as const;
/** The insights page's range: the last 30 days, a bar a day. */
const INSIGHTS_DAYS = 30;

type Params = { pipelineId?: string; executionId?: string; stepId?: string; file?: string; environmentType?: string };
type Req = FastifyRequest<{ Params: Params; Querystring: Record<string, string | undefined>; Body: Record<string, string | string[]> | undefined }>;

function cookies(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

function setCookie(req: FastifyRequest, reply: FastifyReply, name: string, value: string, maxAgeSeconds: number): void {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  const cookie = `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
  const previous = reply.getHeader('set-cookie');
  void reply.header('set-cookie', [...(Array.isArray(previous) ? previous : previous ? [String(previous)] : []), cookie]);
}

function parseForm(text: string): Record<string, string | string[]> {
  const form: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const had = form[key];
    form[key] = had === undefined ? value : ([] as string[]).concat(had, value);
  }
  return form;
}

class ConsoleProblem extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function registerConsole(app: FastifyInstance, opts: ConsoleOptions): void {
  const sc = opts.stagecoach;
  const webUi = opts.webUi ?? process.env.STAGECOACH_WEB_UI ?? 'http://127.0.0.1:8233';

  const session = (req: FastifyRequest): { token: string; user: ApiUser } | undefined => {
    const token = cookies(req)[SESSION_COOKIE];
    const user = token ? opts.tokens.userFor(token) : undefined;
    return token && user ? { token, user } : undefined;
  };

  /** One of the API's own routes, in-process, as the signed-in user. */
  async function callApi(req: FastifyRequest, token: string, method: 'GET' | 'PUT', url: string, body?: Record<string, unknown>) {
    const res = await app.inject({
      method, url, payload: body === undefined ? undefined : JSON.stringify(body),
      headers: {
        authorization: `Bearer ${token}`, accept: 'application/json', host: req.headers.host ?? '127.0.0.1',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
    });
    let json: Record<string, unknown> = {};
    try {
      json = res.body ? JSON.parse(res.body) as Record<string, unknown> : {};
    } catch { /* not JSON: a log's bytes, read from res.body */ }
    return { status: res.statusCode, json, text: res.body, location: res.headers.location as string | undefined };
  }

  const readJson = async (req: FastifyRequest, token: string, url: string) => {
    const res = await callApi(req, token, 'GET', url);
    if (res.status >= 400) throw new ConsoleProblem(res.status, String(res.json.detail ?? `the API answered ${res.status}`));
    return res.json;
  };

  function takeNotice(req: FastifyRequest, reply: FastifyReply): PageFrame['notice'] {
    const raw = cookies(req)[NOTICE_COOKIE];
    if (!raw) return undefined;
    setCookie(req, reply, NOTICE_COOKIE, '', 0);
    try {
      const n = JSON.parse(raw) as PageFrame['notice'];
      return n && (n.kind === 'accepted' || n.kind === 'refused') && typeof n.text === 'string' ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** After a form: back to `to` (303), with what the API answered shown there once. */
  function answerForm(req: FastifyRequest, reply: FastifyReply, to: string, res: { status: number; json: Record<string, unknown> }) {
    const refused = res.status >= 400;
    const text = String((refused ? res.json.detail : res.json.message) ?? (refused ? `refused (${res.status})` : 'accepted'));
    setCookie(req, reply, NOTICE_COOKIE, JSON.stringify({ kind: refused ? 'refused' : 'accepted', text: text.slice(0, 1500) }), 60);
    return reply.redirect(to, 303);
  }

  function sendPage(reply: FastifyReply, frame: PageFrame, status = 200) {
    return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page(frame));
  }

  function pipelineIdOf(req: Req): string {
    const id = req.params.pipelineId ?? '';
    if (!PIPELINE_ID_PATTERN.test(id)) throw new ConsoleProblem(404, `unknown pipeline "${id}"`);
    return id;
  }

  async function executionView(req: Req, user: ApiUser): Promise<ExecutionView> {
    const pipelineId = pipelineIdOf(req);
    const executionId = req.params.executionId ?? '';
    if (!/^\d{1,9}$/.test(executionId)) throw new ConsoleProblem(404, `execution ${executionId} of pipeline ${pipelineId} does not exist`);
    try {
      const [state, pipeline] = await Promise.all([sc.executionState(pipelineId, executionId), sc.pipelineState(pipelineId).catch(() => undefined)]);
      return { state, pipeline, user, webUi, now: Date.now() };
    } catch (err) {
      if (err instanceof StagecoachError && err.type === ClientFailure.NotFound) throw new ConsoleProblem(404, err.message);
      throw err;
    }
  }

  const trail = (pipelineId?: string, executionId?: string, more?: [string, string]): Array<[string, string]> => [
    ['Pipelines', consolePaths.home],
    ...(pipelineId ? [[pipelineId, consolePaths.pipeline(pipelineId)] as [string, string]] : []),
    ...(pipelineId && executionId ? [[`Execution ${executionId}`, consolePaths.execution(pipelineId, executionId)] as [string, string]] : []),
    ...(more ? [more] : []),
  ];

  // Live pages end their streams when the API stops, or closing it would wait for them.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const stop of streams) stop();
  });

  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_req, body, done) => done(null, parseForm(String(body))));

    // Pages need a session; forms must come from the console's own pages (the cookie is SameSite=Strict as well).
    scope.addHook('preHandler', async (req, reply) => {
      const url = req.routeOptions.url ?? '';
      if (req.method === 'POST') {
        const origin = req.headers.origin;
        if (origin && origin !== `${req.protocol}://${req.headers.host}`) throw new ConsoleProblem(403, 'a form from another site is refused');
      }
      if (url === consolePaths.signIn || url === SCRIPT_PATH || url === consolePaths.signOut) return;
      if (!session(req)) {
        if (req.method === 'GET' && !url.endsWith('/events')) return reply.redirect(consolePaths.signIn, 303);
        throw new ConsoleProblem(401, 'sign in first');
      }
    });

    scope.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err instanceof ConsoleProblem ? err.status : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
      if (status >= 500) req.log.error({ err }, 'console page failed');
      const s = session(req);
      return sendPage(reply, {
        title: status === 404 ? 'Not found' : 'Problem', user: s?.user, trail: trail(),
        body: status === 401 ? signInBody(err.message) : problemBody(status, err.message),
      }, status);
    });

    scope.get(SCRIPT_PATH, async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(CLIENT_SCRIPT));

    scope.get(consolePaths.signIn, async (req, reply) => sendPage(reply, { title: 'Sign in', body: signInBody(), user: session(req)?.user }));
    scope.post(consolePaths.signIn, async (req: Req, reply) => {
      const token = String(req.body?.token ?? '').trim();
      const user = token ? opts.tokens.userFor(token) : undefined;
      if (!user) return sendPage(reply, { title: 'Sign in', body: signInBody('That token is not valid.') }, 401);
      setCookie(req, reply, SESSION_COOKIE, token, 12 * 3600);
      req.log.info({ user: user.name }, 'console sign-in');
      return reply.redirect(consolePaths.home, 303);
    });
    scope.post(consolePaths.signOut, async (req, reply) => {
      setCookie(req, reply, SESSION_COOKIE, '', 0);
      return reply.redirect(consolePaths.signIn, 303);
    });

    scope.get(consolePaths.home, async (req, reply) => {
      const { token, user } = session(req)!;
      const [list, environments] = await Promise.all([readJson(req, token, `${PROGRAM}/pipelines`), readJson(req, token, `${PROGRAM}/environments`)]);
      const envs = ((environments._embedded as { environments?: Array<Record<string, string>> })?.environments ?? []);
      const items = ((list._embedded as { pipelines?: Array<Record<string, string>> })?.pipelines ?? []);
      const rows: PipelineRow[] = await Promise.all(items.map(async (p) => {
        const pipeline = await sc.pipelineState(p.id).catch(() => undefined);
        const lastSummary = pipeline?.running ?? pipeline?.executions.at(-1);
        const running = pipeline?.running ? await sc.executionState(p.id, pipeline.running.id).catch(() => undefined) : undefined;
        return {
          id: p.id, name: p.name, status: p.status, lastStartedAt: p.lastStartedAt, lastFinishedAt: p.lastFinishedAt,
          waitingFor: running?.waiting?.action, running: pipeline?.running?.id,
          last: lastSummary ? { id: lastSummary.id, status: lastSummary.status } : undefined,
          environments: envs.filter((e) => e.pipelineId === p.id).map((e) => ({ type: e.type, name: e.name, url: e.publishUrl })),
        };
      }));
      return sendPage(reply, { title: 'Pipelines', user, trail: trail(), notice: takeNotice(req, reply), body: pipelinesBody(rows) });
    });

    scope.get('/console/pipelines/:pipelineId', async (req: Req, reply) => {
      const { token, user } = session(req)!;
      const pipelineId = pipelineIdOf(req);
      const [pipeline, list] = await Promise.all([
        readJson(req, token, `${PROGRAM}/pipeline/${pipelineId}`), readJson(req, token, `${PROGRAM}/pipeline/${pipelineId}/executions?limit=100`),
      ]);
      const rows = ((list._embedded as { executions?: ExecutionRow[] })?.executions ?? []);
      const filter = { status: req.query.status || undefined, trigger: req.query.trigger || undefined, user: req.query.user || undefined };
      const status = String(pipeline.status);
      const keepers = (await Promise.all(KEEPER_ENVIRONMENTS.map((env) => callApi(req, token, 'GET', `${PROGRAM}/pipeline/${pipelineId}/keeper/${env}`))))
        .filter((res) => res.status === 200).map((res) => res.json as unknown as KeeperState);
      return sendPage(reply, {
        title: `Pipeline ${pipelineId}`, user, trail: trail(pipelineId), notice: takeNotice(req, reply),
        body: html`${pipelineBody({ id: pipelineId, status, canStart: status === 'IDLE' && isAllowed(user, 'start'), rows, total: Number(list._totalNumberOfItems ?? rows.length), filter, now: Date.now() })}
${keepersSection(pipelineId, keepers)}`,
      });
    });

    const keeperUrl = (req: Req) => {
      const env = req.params.environmentType ?? '';
      if (!(KEEPER_ENVIRONMENTS as readonly string[]).includes(env)) throw new ConsoleProblem(404, `an environment's keeper is at stage or prod, not "${env}"`);
      return { env, url: `${PROGRAM}/pipeline/${pipelineIdOf(req)}/keeper/${env}` };
    };

    scope.get('/console/pipelines/:pipelineId/keepers/:environmentType', async (req: Req, reply) => {
      const { token, user } = session(req)!;
      const pipelineId = pipelineIdOf(req);
      const { env, url } = keeperUrl(req);
      const keeper = await readJson(req, token, url) as unknown as KeeperState & { _links?: Record<string, unknown> };
      return sendPage(reply, {
        title: `Keeper of ${pipelineId} ${env}`, user, trail: trail(pipelineId, undefined, [`Keeper of ${env}`, consolePaths.keeper(pipelineId, env)]),
        notice: takeNotice(req, reply), body: keeperBody(keeper, { canScale: keeper._links?.scale !== undefined && isAllowed(user, 'scale') }),
      });
    });

    scope.post('/console/pipelines/:pipelineId/keepers/:environmentType/scale', async (req: Req, reply) => {
      const { token } = session(req)!;
      const pipelineId = pipelineIdOf(req);
      const { env, url } = keeperUrl(req);
      const pairs = Number(req.body?.pairs);
      const res = await callApi(req, token, 'PUT', `${url}/scale`, { pairs: Number.isInteger(pairs) ? pairs : String(req.body?.pairs ?? '') });
      return answerForm(req, reply, consolePaths.keeper(pipelineId, env), res);
    });

    // The five figures over the range (interval `all`) and their daily points for the charts, from the API's DORA routes.
    scope.get('/console/pipelines/:pipelineId/insights', async (req: Req, reply) => {
      const { token, user } = session(req)!;
      const pipelineId = pipelineIdOf(req);
      const end = new Date();
      const start = new Date(end.getTime() - INSIGHTS_DAYS * 86400_000);
      const range = `start_date=${encodeURIComponent(start.toISOString())}&end_date=${encodeURIComponent(end.toISOString())}`;
      const points = (metric: string, interval: string) =>
        readJson(req, token, `${PROGRAM}/pipeline/${pipelineId}/dora/metrics?metric=${metric}&interval=${interval}&${range}`) as unknown as Promise<InsightsPoint[]>;
      const series = await Promise.all(INSIGHTS_METRICS.map(async ({ metric }) => {
        const [all, daily] = await Promise.all([points(metric, 'all'), points(metric, 'daily')]);
        return { metric, all: all[0], daily };
      }));
      return sendPage(reply, {
        title: `Insights of ${pipelineId}`, user, trail: trail(pipelineId, undefined, ['Insights', consolePaths.insights(pipelineId)]), notice: takeNotice(req, reply),
        body: insightsBody({ pipelineId, start: start.toISOString(), end: end.toISOString(), series }),
      });
    });

    scope.post('/console/pipelines/:pipelineId/start', async (req: Req, reply) => {
      const { token } = session(req)!;
      const pipelineId = pipelineIdOf(req);
      const res = await callApi(req, token, 'PUT', `${PROGRAM}/pipeline/${pipelineId}/execution`, {});
      if (res.status === 201) return reply.redirect(consolePaths.execution(pipelineId, String(res.json.id)), 303);
      return answerForm(req, reply, consolePaths.pipeline(pipelineId), res);
    });

    scope.get('/console/pipelines/:pipelineId/executions/:executionId', async (req: Req, reply) => {
      const view = await executionView(req, session(req)!.user);
      const { pipelineId, id } = view.state;
      return sendPage(reply, { title: `Execution ${id} of ${pipelineId}`, user: view.user, trail: trail(pipelineId, id), notice: takeNotice(req, reply), body: executionBody(view) });
    });

    // Server-sent events: the sections of the execution page that changed, read from the workflow once a second.
    scope.get('/console/pipelines/:pipelineId/executions/:executionId/events', async (req: Req, reply) => {
      const user = session(req)!.user;
      await executionView(req, user); // a 404 before the stream starts
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      let open = true;
      let wake = () => undefined as void;
      const stop = () => { open = false; wake(); };
      streams.add(stop);
      req.raw.on('close', stop);
      const sent = new Map<string, string>();
      let quiet = 0;
      while (open) {
        const view = await executionView(req, user).catch(() => undefined);
        if (view) {
          const changed: Record<string, string> = {};
          for (const [id, markup] of Object.entries(executionSections(view))) {
            if (sent.get(id) !== markup.text) changed[id] = markup.text;
            sent.set(id, markup.text);
          }
          if (Object.keys(changed).length) {
            reply.raw.write(`event: update\ndata: ${JSON.stringify(changed)}\n\n`);
            quiet = 0;
          } else if (++quiet % 15 === 0) reply.raw.write(': still watching\n\n');
          if (isTerminal(view.state.status)) {
            reply.raw.write('event: end\ndata: {}\n\n');
            break;
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, WATCH_INTERVAL_MS);
          wake = () => { clearTimeout(timer); resolve(); };
        });
      }
      streams.delete(stop);
      reply.raw.end();
    });

    scope.post('/console/pipelines/:pipelineId/executions/:executionId/actions', async (req: Req, reply) => {
      const { token, user } = session(req)!;
      const { state } = await executionView(req, user);
      const call = apiCallFor(state, req.body ?? {});
      const back = consolePaths.execution(state.pipelineId, state.id);
      if (!call) return answerForm(req, reply, back, { status: 400, json: { detail: 'the console does not know that action' } });
      const res = await callApi(req, token, call.method, call.url, call.body);
      if (res.status === 201 && res.json.id) return reply.redirect(consolePaths.execution(state.pipelineId, String(res.json.id)), 303);
      return answerForm(req, reply, back, res);
    });

    /** The step's files as the API's logs route lists them, with their signed download URLs. */
    async function stepFiles(req: Req, token: string) {
      const pipelineId = pipelineIdOf(req);
      const url = `${PROGRAM}/pipeline/${pipelineId}/execution/${encodeURIComponent(req.params.executionId ?? '')}`;
      const execution = await readJson(req, token, url);
      const step = ((execution._embedded as { stepStates?: Array<{ stepId: string; phaseId: string; status: string }> })?.stepStates ?? [])
        .find((s) => s.stepId === req.params.stepId);
      if (!step) throw new ConsoleProblem(404, `execution ${req.params.executionId} has no step ${req.params.stepId}`);
      const logs = await readJson(req, token, `${url}/phase/${step.phaseId}/step/${step.stepId}/logs`);
      const files = (logs.files ?? []) as Array<{ file: string; href: string }>;
      const file = req.params.file ?? req.query.file ?? files[0]?.file;
      const chosen = files.find((f) => f.file === file);
      if (!chosen) throw new ConsoleProblem(404, `step ${step.stepId} has no file ${file}`);
      return { pipelineId, step, chosen };
    }

    scope.get('/console/pipelines/:pipelineId/executions/:executionId/steps/:stepId/files/:file', async (req: Req, reply) => {
      const { chosen } = await stepFiles(req, session(req)!.token);
      return reply.redirect(chosen.href, 303);
    });

    scope.get('/console/pipelines/:pipelineId/executions/:executionId/steps/:stepId/log', async (req: Req, reply) => {
      const { token, user } = session(req)!;
      const { pipelineId, step, chosen } = await stepFiles(req, token);
      const download = new URL(chosen.href);
      const bytes = await callApi(req, token, 'GET', `${download.pathname}${download.search}`);
      const executionId = req.params.executionId!;
      return sendPage(reply, {
        title: `${chosen.file} of ${step.stepId}`, user, trail: trail(pipelineId, executionId, [chosen.file, req.url]),
        body: logBody({ pipelineId, executionId, stepId: step.stepId, file: chosen.file, text: bytes.status < 400 ? bytes.text : '', download: chosen.href, follow: step.status === 'RUNNING' }),
      });
    });
  });
}

