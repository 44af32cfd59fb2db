// Starts GraphiQL on the page served by orgraph (server/graphiql). Everything it
// loads comes from the same server; the API is the data-endpoint of #graphiql.
(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var url = new URL(root.getAttribute('data-endpoint'), window.location.href).href;
  var defaultQuery = [
    '# orgraph. Most fields need a bearer token:',
    '#',
    '#   orgraph token --alias <your alias>',
    '#',
    '# Open "Headers" below and paste it there as JSON:',
    '#',
    '#   {"Authorization": "Bearer <token>"}',
    '#',
    '# then run this with the ▶ button (or Ctrl-Enter).',
    '',
    '{',
    '  viewer {',
    '    alias',
    '  }',
    '}',
    '',
  ].join('\n');
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: url }),
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      // A token typed into the headers editor stays in this tab only.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    })
  );
})();
