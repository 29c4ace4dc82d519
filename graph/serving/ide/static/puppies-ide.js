// Starts GraphiQL (vendor/graphiql.min.js) against this router.
// Queries and mutations: HTTP POST to the GraphQL path. Subscriptions: WebSocket with the
// graphql-transport-ws protocol on the same path; GraphiQL sends the headers editor's
// headers as the connection_init payload, which the router treats as request headers
// (browsers cannot set headers on a WebSocket). ?query=...&variables=... in the URL
// pre-fill the editors, so a link can carry an operation.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("graphiql-settings").textContent);
  var endpoint = new URL(settings.endpoint, window.location.href);
  var socket = new URL(endpoint);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  var fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
  });

  var params = new URLSearchParams(window.location.search);
  var props = {
    fetcher: fetcher,
    defaultQuery: settings.defaultQuery || undefined,
    query: params.get("query") || undefined,
    variables: params.get("variables") || undefined,
    shouldPersistHeaders: true,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: "headers",
  };
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
