// Building the DOM without markup: elements through createElement, text through textContent, attributes through
// setAttribute, so that nothing from the database can become markup.

// The element with this id.
export const $ = (id) => document.getElementById(id);

// el('a', { href: '#/', class: 'x', text: 'y', 'data-id': 1 }, child, ...): attributes through setAttribute, text
// through textContent, children as nodes or strings (text nodes). Null, undefined and false are skipped.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}
