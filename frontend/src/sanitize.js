// sanitize-html as ipywidgets' manager calls it (`inline_sanitize`, for a description given as HTML), done by
// DOMPurify: the same tags and attributes allowed, in an eighth of the size (sanitize-html brings a CSS parser
// and an HTML parser with it; DOMPurify uses the browser's). The build puts this in its place (package.json).
import DOMPurify from 'dompurify';

export default function sanitize(html, { allowedTags, allowedAttributes }) {
  const attributes = [...new Set(Object.values(allowedAttributes).flat())];
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS: allowedTags,
    ALLOWED_ATTR: attributes.filter((name) => !name.endsWith('*')),
    ALLOW_ARIA_ATTR: attributes.includes('aria-*'),
    ALLOW_DATA_ATTR: false,
  });
}
