/**
 * The part of the page's script that writes a service name, spliced into the function of
 * `PAGE_SCRIPT`. It gives the page `writeName`.
 *
 * A name like `payment_reconciliation_export` has no spaces, so a browser left to itself either
 * overflows the card or (with `overflow-wrap: anywhere`) breaks it anywhere ("save_worke/r").
 * The name is written as text nodes with a `<wbr>` element after each `_`, `-` and `.`, so it
 * wraps only there; a part too long for the card on its own is cut with an ellipsis by the
 * style, and the full name is in the heading's `title`. Built from DOM nodes, never HTML.
 */
export const NAME_SCRIPT: string = `
  var NAME_BREAK_AFTER = /[_.-]/;

  function writeName(node, name) {
    node.textContent = '';
    node.title = name;
    var part = '';
    for (var i = 0; i < name.length; i++) {
      part += name.charAt(i);
      if (NAME_BREAK_AFTER.test(name.charAt(i)) && i < name.length - 1) {
        node.appendChild(document.createTextNode(part));
        node.appendChild(document.createElement('wbr'));
        part = '';
      }
    }
    if (part) node.appendChild(document.createTextNode(part));
  }
`;
