// Pure helpers of the identity and organization pages. Unit-tested in
// identity.test.ts.

export interface TreeNode {
  path: string;
  children: TreeNode[];
}

/**
 * The subtree below `root` as nested nodes, from the paths of its
 * descendants (`acme.sales`, `acme.sales.emea`, …) in any order. A path
 * whose parent is not in the list (the API caps the subtree) is left out.
 */
export function buildTree(root: string, paths: string[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>([[root, { path: root, children: [] }]]);
  // A parent's path is a prefix of its children's, so it sorts first.
  for (const path of [...paths].sort()) {
    const node: TreeNode = { path, children: [] };
    nodes.set(path, node);
    nodes.get(path.slice(0, path.lastIndexOf(".")))?.children.push(node);
  }
  return nodes.get(root)?.children ?? [];
}
