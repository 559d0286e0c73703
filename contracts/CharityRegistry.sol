// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ICharityRegistry} from "./interfaces/ICharityRegistry.sol";

/**
 * @title CharityRegistry
 * @notice The charities of the shanlian platform, and the keys that sign their journal entries.
 *
 * A charity id is registered once and never reused: revoking a charity keeps its record, so
 * that entries it signed before the revocation can still be checked against its key.
 */
contract CharityRegistry is ICharityRegistry, AccessControl {
    /// @notice The role allowed to register and revoke charities: keccak256("REGISTRAR_ROLE").
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    mapping(bytes32 charityId => Charity) private _charities;

    /**
     * @param admin receives `DEFAULT_ADMIN_ROLE`: it grants and revokes `REGISTRAR_ROLE`.
     * @param registrar receives `REGISTRAR_ROLE`.
     */
    constructor(address admin, address registrar) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, registrar);
    }

    /// @inheritdoc ICharityRegistry
    function registerCharity(bytes32 charityId, address signer, bytes32 metadataHash)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (charityId == bytes32(0)) {
            revert CharityRegistryInvalidId(charityId);
        }
        Charity storage charity = _charities[charityId];
        if (charity.registeredAt != 0) {
            revert CharityRegistryAlreadyRegistered(charityId);
        }
        charity.signer = signer;
        charity.registeredAt = uint64(block.timestamp);
        charity.metadataHash = metadataHash;
        emit CharityRegistered(charityId, signer, metadataHash);
    }

    /// @inheritdoc ICharityRegistry
    function revokeCharity(bytes32 charityId) external onlyRole(REGISTRAR_ROLE) {
        Charity storage charity = _charities[charityId];
        if (charity.registeredAt == 0) {
            revert CharityRegistryUnknownCharity(charityId);
        }
        if (charity.revokedAt != 0) {
            revert CharityRegistryAlreadyRevoked(charityId, charity.revokedAt);
        }
        charity.revokedAt = uint64(block.timestamp);
        emit CharityRevoked(charityId);
    }

    /// @inheritdoc ICharityRegistry
    function changeSigner(bytes32 charityId, address signer, bytes32 entryHash)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        Charity storage charity = _charities[charityId];
        if (charity.registeredAt == 0) {
            revert CharityRegistryUnknownCharity(charityId);
        }
        address previousSigner = charity.signer;
        charity.signer = signer;
        emit CharitySignerChanged(charityId, previousSigner, signer, entryHash);
    }

    /// @inheritdoc ICharityRegistry
    function charityOf(bytes32 charityId) external view returns (Charity memory) {
        Charity memory charity = _charities[charityId];
        if (charity.registeredAt == 0) {
            revert CharityRegistryUnknownCharity(charityId);
        }
        return charity;
    }

    /// @inheritdoc ICharityRegistry
    function isActive(bytes32 charityId) external view returns (bool) {
        Charity storage charity = _charities[charityId];
        return charity.registeredAt != 0 && charity.revokedAt == 0;
    }
}
