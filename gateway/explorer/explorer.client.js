/* Liquid ABT GraphQL explorer: boots GraphiQL (UMD globals React, ReactDOM, GraphiQL, graphqlWs)
 * with a fetcher that sends queries and mutations over HTTP POST and subscriptions over graphql-ws,
 * both to this page's own URL. Headers from the Headers tab go with HTTP requests; for subscriptions
 * the Authorization header becomes the graphql-ws connection_init payload (one connection per token). */
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('explorer-config').textContent || '{}');
  var httpUrl = location.origin + location.pathname;
  var wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + location.pathname;
  var GraphQL = window.GraphiQL.GraphQL;

  function authorizationOf(headers) {
    if (!headers) return undefined;
    for (var key in headers) {
      if (Object.prototype.hasOwnProperty.call(headers, key) && key.toLowerCase() === 'authorization' && headers[key]) return String(headers[key]);
    }
    return undefined;
  }

  var clients = new Map();
  function wsClient(authorization) {
    var key = authorization || '';
    var client = clients.get(key);
    if (!client) {
      client = window.graphqlWs.createClient({
        url: wsUrl,
        lazy: true,
        retryAttempts: 3,
        connectionParams: authorization ? { authorization: authorization } : {},
      });
      clients.set(key, client);
    }
    return client;
  }

  /**
   * The operation to run, read from the query text itself. GraphiQL's operationName (and parsed
   * document) can lag behind the editor by a debounce when Ctrl-Enter follows typing at once; a name
   * the text no longer defines is dropped when the text has one operation, instead of being sent.
   */
  function resolveOperation(params) {
    var doc;
    try {
      doc = GraphQL.parse(params.query);
    } catch (e) {
      return { params: params, op: null };
    }
    var name = params.operationName || undefined;
    var op = GraphQL.getOperationAST(doc, name);
    if (!op && name) {
      op = GraphQL.getOperationAST(doc, undefined);
      if (op) params = Object.assign({}, params, { operationName: op.name ? op.name.value : undefined });
    }
    return { params: params, op: op };
  }

  /** graphql-ws close events and error lists become a result GraphiQL can show. */
  function asResult(err) {
    if (Array.isArray(err)) return { errors: err };
    if (err && typeof err.code === 'number') return { errors: [{ message: 'WebSocket closed: ' + err.code + (err.reason ? ' ' + err.reason : '') }] };
    return { errors: [{ message: err && err.message ? err.message : String(err) }] };
  }

  function subscribe(params, headers) {
    var payload = { query: params.query, variables: params.variables || undefined, operationName: params.operationName || undefined };
    return {
      subscribe: function (observer) {
        var done = false;
        var dispose = wsClient(authorizationOf(headers)).subscribe(payload, {
          next: function (value) { if (!done) observer.next(value); },
          error: function (err) { if (done) return; done = true; observer.next(asResult(err)); observer.complete(); },
          complete: function () { if (done) return; done = true; observer.complete(); },
        });
        return { unsubscribe: function () { done = true; dispose(); } };
      },
    };
  }

  function post(params, headers) {
    var h = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    if (headers) for (var k in headers) if (Object.prototype.hasOwnProperty.call(headers, k)) h[k] = String(headers[k]);
    return fetch(httpUrl, { method: 'POST', headers: h, body: JSON.stringify(params), credentials: 'same-origin' }).then(function (res) {
      return res.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (e) {
          return { errors: [{ message: 'HTTP ' + res.status + ': ' + text.slice(0, 500) }] };
        }
      });
    });
  }

  function fetcher(params, opts) {
    var headers = opts && opts.headers;
    var resolved = resolveOperation(params);
    return resolved.op && resolved.op.operation === 'subscription' ? subscribe(resolved.params, headers) : post(resolved.params, headers);
  }

  var root = ReactDOM.createRoot(document.getElementById('explorer'));
  root.render(
    React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      query: config.query || undefined,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
    }),
  );
})();
