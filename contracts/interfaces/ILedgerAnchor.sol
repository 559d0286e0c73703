// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/**
 * @title ILedgerAnchor
 * @notice Checkpoints of an RFC 6962 Merkle log, anchored so that history cannot be rewritten.
 *
 * A checkpoint is a tree size and the root hash of the log at that size. A new checkpoint
 * is accepted only if the tree grew and, from the second checkpoint on, a consistency proof
 * (RFC 9162 §2.1.4.2) shows that the new tree extends the last anchored one.
 */
interface ILedgerAnchor {
    /// @dev `proposed` is not larger than the tree size of the latest checkpoint (`current`).
    error LedgerAnchorNotGrowing(uint64 current, uint64 proposed);

    /// @dev The consistency proof from `fromSize` to `toSize` has `got` hashes, not `expected`.
    error LedgerAnchorProofLength(uint64 fromSize, uint64 toSize, uint256 expected, uint256 got);

    /// @dev The consistency proof does not show that the tree at `toSize` extends the anchored tree at `fromSize`.
    error LedgerAnchorInconsistent(uint64 fromSize, uint64 toSize);

    /// @dev No checkpoint has the root hash `rootHash`.
    error LedgerAnchorUnknownRoot(bytes32 rootHash);

    /// @dev The first checkpoint's root hash is zero, which no RFC 6962 tree has.
    error LedgerAnchorZeroRoot();

    /// @dev The latest checkpoint was asked for before any was anchored.
    error LedgerAnchorNoCheckpoint();

    /**
     * @dev Emitted when the checkpoint number `index` (0-based) was anchored: the log had
     * `treeSize` entries and root `rootHash`.
     */
    event CheckpointAnchored(uint256 indexed index, uint64 treeSize, bytes32 rootHash);

    /**
     * @notice Anchors the checkpoint (`treeSize`, `rootHash`).
     * @param treeSize number of entries in the log.
     * @param rootHash the log's RFC 6962 root hash at `treeSize`.
     * @param consistencyProof the RFC 6962 §2.1.2 proof from the latest checkpoint to this one;
     * empty for the first checkpoint.
     *
     * Requirements:
     *
     * - the caller must have `ANCHORER_ROLE`.
     * - `treeSize` must be larger than the latest checkpoint's tree size (and than 0).
     * - the first checkpoint's `rootHash` must not be zero. (A later one cannot be an
     *   anchored root again: the consistency proof would take a SHA-256 collision.)
     * - `consistencyProof` must be empty for the first checkpoint, and must prove consistency
     *   from the latest checkpoint to (`treeSize`, `rootHash`) for every later one.
     *
     * Emits a {CheckpointAnchored} event.
     */
    function anchor(uint64 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof) external;

    /// @notice Number of checkpoints anchored so far.
    function checkpointCount() external view returns (uint256);

    /**
     * @notice The checkpoint whose root hash is `rootHash`: its index, its tree size, and the
     * timestamp of the block that anchored it.
     * @dev Checkpoints are kept under their root hash, so that every anchor writes one new
     * storage slot (docs/adr/0005-checkpoint-storage-layout.md). To go from an index to its
     * checkpoint, read the {CheckpointAnchored} log with that index, then this.
     *
     * Requirements:
     *
     * - a checkpoint with root `rootHash` must have been anchored.
     */
    function checkpointOf(bytes32 rootHash)
        external
        view
        returns (uint256 index, uint64 treeSize, uint64 anchoredAt);

    /**
     * @notice The most recent checkpoint and its index.
     *
     * Requirements:
     *
     * - at least one checkpoint must have been anchored.
     */
    function latestCheckpoint()
        external
        view
        returns (uint256 index, uint64 treeSize, bytes32 rootHash, uint64 anchoredAt);

    /**
     * @notice Whether `leafHash` is the leaf at `leafIndex` of an anchored checkpoint of
     * `treeSize` entries, by the RFC 9162 §2.1.3.2 inclusion proof `proof`.
     * @dev The root the proof leads to must be an anchored checkpoint's, and that
     * checkpoint's tree size `treeSize`. Returns false for a leaf index outside the tree, a
     * proof of the wrong length, or a root never anchored.
     */
    function verifyInclusion(uint64 treeSize, uint64 leafIndex, bytes32 leafHash, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
