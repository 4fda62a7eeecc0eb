// Starts Swagger UI on /docs (adserver/docs.html) with this server's /openapi.json.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  docExpansion: "list",
  deepLinking: true,
  filter: true,
  layout: "BaseLayout",
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  persistAuthorization: true,
});
