// page: the live status page, one self-contained HTML document with its script and style under a hash-based CSP.
export { statusPage, renderPage } from './status-page';
