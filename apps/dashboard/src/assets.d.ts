/** Stylesheets are bundled by esbuild (build.mjs) into app.css. */
declare module '*.css';
