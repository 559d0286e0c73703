// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/**
 * @title ICharityRegistry
 * @notice The charities known to the platform, each with the key that signs its journal entries.
 */
interface ICharityRegistry {
    /**
     * @notice A registered charity.
     * @param signer the address whose EIP-712 signatures the charity's entries carry (zero: none).
     * @param registeredAt block timestamp of the registration.
     * @param revokedAt block timestamp of the revocation, zero while the charity is active.
     * @param metadataHash SHA-256 of the charity's canonical `charity.registered` journal entry.
     */
    struct Charity {
        address signer;
        uint64 registeredAt;
        uint64 revokedAt;
        bytes32 metadataHash;
    }

    /// @dev `charityId` is zero, which names no charity.
    error CharityRegistryInvalidId(bytes32 charityId);

    /// @dev `charityId` was registered before (ids are never reused, even after a revocation).
    error CharityRegistryAlreadyRegistered(bytes32 charityId);

    /// @dev `charityId` was never registered.
    error CharityRegistryUnknownCharity(bytes32 charityId);

    /// @dev `charityId` was already revoked at `revokedAt`.
    error CharityRegistryAlreadyRevoked(bytes32 charityId, uint64 revokedAt);

    /// @dev Emitted when `charityId` was registered with `signer` and `metadataHash`.
    event CharityRegistered(bytes32 indexed charityId, address indexed signer, bytes32 metadataHash);

    /// @dev Emitted when `charityId` was revoked.
    event CharityRevoked(bytes32 indexed charityId);

    /**
     * @dev Emitted when the signer of `charityId` changed from `previousSigner` to `signer`
     * (zero: none from now on), as its journal entry `entryHash` (the leaf hash of its
     * `charity.signer_changed` entry) says.
     */
    event CharitySignerChanged(
        bytes32 indexed charityId, address indexed previousSigner, address indexed signer, bytes32 entryHash
    );

    /**
     * @notice Registers the charity `charityId`.
     *
     * Requirements:
     *
     * - the caller must have `REGISTRAR_ROLE`.
     * - `charityId` must not be zero and must never have been registered.
     *
     * Emits a {CharityRegistered} event.
     */
    function registerCharity(bytes32 charityId, address signer, bytes32 metadataHash) external;

    /**
     * @notice Revokes the charity `charityId`; its past entries stay as they are.
     *
     * Requirements:
     *
     * - the caller must have `REGISTRAR_ROLE`.
     * - `charityId` must be registered and not yet revoked.
     *
     * Emits a {CharityRevoked} event.
     */
    function revokeCharity(bytes32 charityId) external;

    /**
     * @notice Records that the charity `charityId` signs with `signer` from the journal entry
     * `entryHash` on (zero: it signs nothing from then on). The signers before stay in the
     * events, so that every entry is checked against the signer of its time.
     *
     * Requirements:
     *
     * - the caller must have `REGISTRAR_ROLE`.
     * - `charityId` must be registered.
     *
     * Emits a {CharitySignerChanged} event.
     */
    function changeSigner(bytes32 charityId, address signer, bytes32 entryHash) external;

    /**
     * @notice The charity `charityId`.
     *
     * Requirements:
     *
     * - `charityId` must be registered.
     */
    function charityOf(bytes32 charityId) external view returns (Charity memory);

    /// @notice Whether `charityId` is registered and not revoked.
    function isActive(bytes32 charityId) external view returns (bool);
}
